package minis3

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	s3Namespace     = "http://s3.amazonaws.com/doc/2006-03-01/"
	defaultMimeType = "binary/octet-stream" // what S3 reports when none was given
	isoTime         = "2006-01-02T15:04:05.000Z"
)

func metaHeaders(h http.Header) http.Header {
	m := http.Header{}
	for k, v := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") {
			m[k] = v
		}
	}
	return m
}

func (s *Server) putObject(req *request) error {
	rec, err := s.receive(req)
	if err != nil {
		return err
	}
	o := &object{
		content:     rec.content,
		etag:        quotedMD5(rec.md5),
		modTime:     time.Now().UTC(),
		contentType: req.r.Header.Get("Content-Type"),
		meta:        metaHeaders(req.r.Header),
	}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	old := b.objects[req.key]
	b.objects[req.key] = o
	s.mu.Unlock()
	if old != nil {
		old.remove()
	}
	req.w.Header().Set("ETag", o.etag)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObject(req *request, withBody bool) error {
	s.mu.Lock()
	o := s.lookup(req.bucket, req.key)
	s.mu.Unlock()
	if o == nil {
		return s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	if withBody && o.discarded {
		return errNotImplemented("GetObject on a server that discards bodies (Options.Discard)")
	}
	start, length := int64(0), o.size
	status := http.StatusOK
	h := req.w.Header()
	if rng := req.r.Header.Get("Range"); rng != "" {
		var r rangeResult
		start, length, r = parseRange(rng, o.size)
		switch r {
		case rangeUnsatisfiable:
			e := s3Error(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable")
			e.extra = []xmlElem{elem("RangeRequested", rng), elem("ActualObjectSize", strconv.FormatInt(o.size, 10))}
			return e
		case rangeOK:
			status = http.StatusPartialContent
			h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+
				strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(o.size, 10))
		}
	}
	ct := o.contentType
	if ct == "" {
		ct = defaultMimeType
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modTime.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for k, v := range o.meta {
		h[k] = v
	}
	if !withBody {
		req.w.WriteHeader(status)
		return nil
	}
	rc, err := o.open()
	if err != nil {
		return errInternal(err)
	}
	defer rc.Close()
	if start > 0 {
		if _, err := rc.(io.Seeker).Seek(start, io.SeekStart); err != nil {
			return errInternal(err)
		}
	}
	req.w.WriteHeader(status)
	io.Copy(req.w, io.LimitReader(rc, length))
	return nil
}

type rangeResult int

const (
	rangeIgnored rangeResult = iota
	rangeOK
	rangeUnsatisfiable
)

// parseRange understands the one range S3 honours: "bytes=a-b", "bytes=a-"
// or "bytes=-n". S3 ignores multiple or malformed ranges and serves the
// whole object; so does this.
func parseRange(h string, size int64) (start, length int64, _ rangeResult) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, rangeIgnored
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, rangeIgnored
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			return 0, size, rangeIgnored
		}
		if n == 0 || size == 0 {
			return 0, 0, rangeUnsatisfiable
		}
		n = min(n, size)
		return size - n, n, rangeOK
	}
	a, err := strconv.ParseInt(first, 10, 64)
	if err != nil || a < 0 {
		return 0, size, rangeIgnored
	}
	if a >= size {
		return 0, 0, rangeUnsatisfiable
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
			return 0, size, rangeIgnored
		}
		b = min(b, size-1)
	}
	return a, b - a + 1, rangeOK
}

func (s *Server) deleteObject(req *request) error {
	s.mu.Lock()
	b := s.buckets[req.bucket]
	old := b.objects[req.key]
	delete(b.objects, req.key)
	s.mu.Unlock()
	if old != nil {
		old.remove()
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

type listBucketResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Xmlns                 string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	EncodingType          string `xml:",omitempty"`
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	Contents              []listEntry
	CommonPrefixes        []commonPrefix
}

type listEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type commonPrefix struct{ Prefix string }

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Region  string   `xml:",chardata"`
}

func (s *Server) listObjectsV2(req *request) error {
	q := req.r.URL.Query()
	res := listBucketResult{
		Xmlns:             s3Namespace,
		Name:              req.bucket,
		Prefix:            q.Get("prefix"),
		Delimiter:         q.Get("delimiter"),
		StartAfter:        q.Get("start-after"),
		ContinuationToken: q.Get("continuation-token"),
		EncodingType:      q.Get("encoding-type"),
		MaxKeys:           1000,
	}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3Error(http.StatusBadRequest, "InvalidArgument", "max-keys must be a non-negative integer")
		}
		res.MaxKeys = min(n, 1000)
	}
	after := res.StartAfter
	if res.ContinuationToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(res.ContinuationToken)
		if err != nil {
			return s3Error(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	enc := func(s string) string { return s }
	if res.EncodingType == "url" {
		enc = func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	}

	s.mu.Lock()
	b := s.buckets[req.bucket]
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, res.Prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	seenPrefix := map[string]bool{}
	last := ""
	for _, k := range keys {
		if res.KeyCount >= res.MaxKeys {
			res.IsTruncated = true
			break
		}
		if res.Delimiter != "" {
			if i := strings.Index(k[len(res.Prefix):], res.Delimiter); i >= 0 {
				cp := k[:len(res.Prefix)+i+len(res.Delimiter)]
				if !seenPrefix[cp] {
					seenPrefix[cp] = true
					res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{enc(cp)})
					res.KeyCount++
				}
				last = k
				continue
			}
		}
		o := b.objects[k]
		res.Contents = append(res.Contents, listEntry{
			Key:          enc(k),
			LastModified: o.modTime.Format(isoTime),
			ETag:         o.etag,
			Size:         o.size,
			StorageClass: "STANDARD",
		})
		res.KeyCount++
		last = k
	}
	s.mu.Unlock()
	if res.IsTruncated {
		// A continuation after a common prefix must skip the whole prefix.
		for cp := range seenPrefix {
			if strings.HasPrefix(last, cp) {
				last = cp + "\U0010FFFF"
			}
		}
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	res.Prefix = enc(res.Prefix)
	return writeXML(req.w, http.StatusOK, res)
}
