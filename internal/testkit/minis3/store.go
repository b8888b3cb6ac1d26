package minis3

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// content is an immutable blob, in memory or in a file of its own. Files
// are never rewritten, only replaced, so a reader opened earlier keeps
// reading the old content.
type content struct {
	data      []byte
	path      string
	size      int64
	discarded bool // Options.Discard: only the size is known
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (c content) open() (io.ReadCloser, error) {
	if c.discarded {
		return nil, ErrDiscarded
	}
	if c.path == "" {
		return readCloser{bytes.NewReader(c.data)}, nil
	}
	return os.Open(c.path)
}

func (c content) remove() {
	if c.path != "" {
		os.Remove(c.path)
	}
}

type bucket struct {
	objects map[string]*object
	uploads map[string]*upload
}

func newBucket() *bucket {
	return &bucket{objects: map[string]*object{}, uploads: map[string]*upload{}}
}

type object struct {
	content
	etag        string // quoted
	modTime     time.Time
	contentType string
	meta        http.Header // x-amz-meta-*
	// parts and partSize describe an object built by a multipart upload:
	// how many parts, and the size of the first.
	parts    int
	partSize int64
}

type upload struct {
	id          string
	key         string
	initiated   time.Time
	contentType string
	meta        http.Header
	parts       map[int]*part
}

type part struct {
	content
	number  int
	etag    string // quoted
	md5     []byte
	modTime time.Time
}

// received is a request body that has been stored and verified.
type received struct {
	content
	md5 []byte
}

// receive stores a body in memory or in a new file under the server's
// directory (or, with Options.Discard, nowhere), while verifying
// x-amz-content-sha256, Content-MD5 and any x-amz-checksum-* header.
// Nothing is kept when verification fails. A body over MaxPartSize is
// refused before it is read, as S3 refuses it.
func (s *Server) receive(req *request) (received, error) {
	r := req.r
	if r.ContentLength < 0 {
		return received{}, s3Error(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.")
	}
	if r.ContentLength > MaxPartSize {
		e := s3Error(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
		e.extra = []xmlElem{
			elem("ProposedSize", strconv.FormatInt(r.ContentLength, 10)),
			elem("MaxSizeAllowed", strconv.FormatInt(MaxPartSize, 10)),
		}
		return received{}, e
	}
	v, err := newVerifier(req, &s.bytesRecv)
	if err != nil {
		return received{}, err
	}
	var rec received
	if s.discard {
		if v.sha != nil && v.wantMD5 == nil {
			v.md5 = nil // the signed SHA-256 checks the body; see Options.Discard
		}
		bp := discardBufs.Get().(*[]byte)
		// io.Discard's ReadFrom would read in 8 KiB pieces.
		_, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, v, *bp)
		discardBufs.Put(bp)
		if err != nil {
			return received{}, incomplete(err)
		}
		rec.discarded = true
	} else if s.dir == "" {
		buf := bytes.NewBuffer(make([]byte, 0, r.ContentLength))
		if _, err := io.Copy(buf, v); err != nil {
			return received{}, incomplete(err)
		}
		rec.data = buf.Bytes()
	} else {
		f, err := os.CreateTemp(s.dir, "blob-")
		if err != nil {
			return received{}, errInternal(err)
		}
		_, err = io.Copy(f, v)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = errInternal(cerr)
		}
		rec.path = f.Name()
		if err != nil {
			rec.remove()
			return received{}, incomplete(err)
		}
	}
	rec.size = v.n
	if err := v.verify(); err != nil {
		rec.remove()
		return received{}, err
	}
	if v.md5 != nil {
		rec.md5 = v.md5.Sum(nil)
	} else {
		rec.md5 = v.sha.Sum(nil)[:md5.Size]
	}
	return rec, nil
}

var discardBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func incomplete(err error) error {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return s3Error(http.StatusBadRequest, "IncompleteBody",
		"You did not provide the number of bytes specified by the Content-Length HTTP header: "+err.Error())
}

// readBody reads a small request body (XML) and verifies it like receive.
func readBody(req *request, limit int64) ([]byte, error) {
	v, err := newVerifier(req, nil)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(v, limit+1))
	if err != nil {
		return nil, incomplete(err)
	}
	if int64(len(b)) > limit {
		return nil, s3Error(http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big.")
	}
	return b, v.verify()
}

// verifier hashes a body as it is read.
type verifier struct {
	r          io.Reader
	n          int64
	counter    *atomic.Int64
	md5        hash.Hash
	wantMD5    []byte
	sha        hash.Hash
	wantSHA    string
	checksums  []checksum
	wantLength int64
}

type checksum struct {
	name string
	h    hash.Hash
	want []byte
}

var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var checksumAlgorithms = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"crc64nvme": func() hash.Hash { return crc64.New(crc64NVME) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
}

func newVerifier(req *request, counter *atomic.Int64) (*verifier, error) {
	r := req.r
	v := &verifier{r: r.Body, counter: counter, md5: md5.New(), wantLength: r.ContentLength}
	if m := r.Header.Get("Content-MD5"); m != "" {
		b, err := base64.StdEncoding.DecodeString(m)
		if err != nil || len(b) != md5.Size {
			return nil, s3Error(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
		}
		v.wantMD5 = b
	}
	if req.payloadHash != unsignedPayload {
		v.sha, v.wantSHA = sha256.New(), req.payloadHash
	}
	for name, newHash := range checksumAlgorithms {
		val := r.Header.Get("X-Amz-Checksum-" + name)
		if val == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return nil, s3Error(http.StatusBadRequest, "InvalidRequest",
				fmt.Sprintf("Value for x-amz-checksum-%s header is invalid.", name))
		}
		v.checksums = append(v.checksums, checksum{name, newHash(), b})
	}
	return v, nil
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if n > 0 {
		v.n += int64(n)
		if v.counter != nil {
			v.counter.Add(int64(n))
		}
		if v.md5 != nil {
			v.md5.Write(p[:n])
		}
		if v.sha != nil {
			v.sha.Write(p[:n])
		}
		for _, c := range v.checksums {
			c.h.Write(p[:n])
		}
	}
	return n, err
}

func (v *verifier) verify() error {
	if v.wantLength >= 0 && v.n != v.wantLength {
		return s3Error(http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
	}
	if v.sha != nil && hex.EncodeToString(v.sha.Sum(nil)) != v.wantSHA {
		return s3Error(http.StatusBadRequest, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	if v.wantMD5 != nil && !bytes.Equal(v.md5.Sum(nil), v.wantMD5) {
		return s3Error(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
	}
	for _, c := range v.checksums {
		if !bytes.Equal(c.h.Sum(nil), c.want) {
			return s3Error(http.StatusBadRequest, "BadDigest",
				fmt.Sprintf("The %s you specified did not match the calculated checksum.", c.name))
		}
	}
	return nil
}

// concat joins parts into one new blob.
func (s *Server) concat(parts []*part) (content, error) {
	var total int64
	for _, p := range parts {
		total += p.size
	}
	if s.discard {
		return content{size: total, discarded: true}, nil
	}
	if s.dir == "" {
		data := make([]byte, 0, total)
		for _, p := range parts {
			data = append(data, p.data...)
		}
		return content{data: data, size: total}, nil
	}
	f, err := os.CreateTemp(s.dir, "blob-")
	if err != nil {
		return content{}, err
	}
	c := content{path: f.Name(), size: total}
	for _, p := range parts {
		if err = appendFile(f, p.path); err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.remove()
		return content{}, err
	}
	return c, nil
}

func appendFile(dst *os.File, path string) error {
	src, err := os.Open(filepath.Clean(path))
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(dst, src)
	return err
}

func quotedMD5(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }
