package minis3

import (
	"crypto/md5"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

type listPartsResult struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	Xmlns                string   `xml:"xmlns,attr"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	StorageClass         string
	Parts                []partEntry `xml:"Part"`
}

type partEntry struct {
	PartNumber   int
	LastModified string
	ETag         string
	Size         int64
}

type completeRequest struct {
	XMLName xml.Name       `xml:"CompleteMultipartUpload"`
	Parts   []completePart `xml:"Part"`
}

type completePart struct {
	PartNumber int
	ETag       string
}

type completeResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string
	Bucket   string
	Key      string
	ETag     string
}

type listUploadsResult struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	Xmlns              string   `xml:"xmlns,attr"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string
	NextUploadIDMarker string `xml:"NextUploadIdMarker"`
	Prefix             string
	MaxUploads         int
	IsTruncated        bool
	Uploads            []uploadEntry `xml:"Upload"`
}

type uploadEntry struct {
	Key          string
	UploadID     string `xml:"UploadId"`
	Initiated    string
	StorageClass string
}

func errNoSuchUpload() *apiError {
	return s3Error(http.StatusNotFound, "NoSuchUpload",
		"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
}

// findUpload must be called with s.mu held.
func (s *Server) findUpload(req *request) *upload {
	u := s.buckets[req.bucket].uploads[req.r.URL.Query().Get("uploadId")]
	if u == nil || u.key != req.key {
		return nil
	}
	return u
}

func (s *Server) createMultipartUpload(req *request) error {
	if _, err := readBody(req, 1<<20); err != nil {
		return err
	}
	u := &upload{
		id:          newID(24),
		key:         req.key,
		initiated:   time.Now().UTC(),
		contentType: req.r.Header.Get("Content-Type"),
		meta:        metaHeaders(req.r.Header),
		parts:       map[int]*part{},
	}
	s.mu.Lock()
	s.buckets[req.bucket].uploads[u.id] = u
	s.mu.Unlock()
	return writeXML(req.w, http.StatusOK, initiateResult{Xmlns: s3Namespace, Bucket: req.bucket, Key: req.key, UploadID: u.id})
}

func (s *Server) uploadPart(req *request) error {
	q := req.r.URL.Query()
	n, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil || n < 1 || n > MaxParts {
		return s3Error(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
	}
	s.mu.Lock()
	known := s.findUpload(req) != nil
	s.mu.Unlock()
	if !known {
		return errNoSuchUpload()
	}
	rec, err := s.receive(req)
	if err != nil {
		return err
	}
	p := &part{content: rec.content, number: n, etag: quotedMD5(rec.md5), md5: rec.md5, modTime: time.Now().UTC()}
	s.mu.Lock()
	u := s.findUpload(req) // it may have been aborted or completed meanwhile
	var old *part
	if u != nil {
		old = u.parts[n]
		u.parts[n] = p
	}
	s.mu.Unlock()
	if u == nil {
		p.remove()
		return errNoSuchUpload()
	}
	if old != nil {
		old.remove()
	}
	s.parts.Add(1)
	req.w.Header().Set("ETag", p.etag)
	req.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) listParts(req *request) error {
	q := req.r.URL.Query()
	maxParts, marker := 1000, 0
	var err error
	if v := q.Get("max-parts"); v != "" {
		if maxParts, err = strconv.Atoi(v); err != nil || maxParts < 0 {
			return s3Error(http.StatusBadRequest, "InvalidArgument", "max-parts must be a non-negative integer")
		}
		maxParts = min(maxParts, 1000)
	}
	if v := q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return s3Error(http.StatusBadRequest, "InvalidArgument", "part-number-marker must be a non-negative integer")
		}
	}
	res := listPartsResult{
		Xmlns: s3Namespace, Bucket: req.bucket, Key: req.key, UploadID: q.Get("uploadId"),
		PartNumberMarker: marker, MaxParts: maxParts, StorageClass: "STANDARD",
	}
	s.mu.Lock()
	u := s.findUpload(req)
	var parts []*part
	if u != nil {
		for _, p := range u.parts {
			if p.number > marker {
				parts = append(parts, p)
			}
		}
	}
	s.mu.Unlock()
	if u == nil {
		return errNoSuchUpload()
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].number < parts[j].number })
	if len(parts) > maxParts {
		parts, res.IsTruncated = parts[:maxParts], true
	}
	for _, p := range parts {
		res.Parts = append(res.Parts, partEntry{p.number, p.modTime.Format(isoTime), p.etag, p.size})
		res.NextPartNumberMarker = p.number
	}
	return writeXML(req.w, http.StatusOK, res)
}

func (s *Server) completeMultipartUpload(req *request) error {
	body, err := readBody(req, 10<<20)
	if err != nil {
		return err
	}
	var cr completeRequest
	if err := xml.Unmarshal(body, &cr); err != nil {
		return s3Error(http.StatusBadRequest, "MalformedXML",
			"The XML you provided was not well-formed or did not validate against our published schema.")
	}
	if len(cr.Parts) == 0 {
		return s3Error(http.StatusBadRequest, "InvalidRequest", "You must specify at least one part")
	}

	s.mu.Lock()
	u := s.findUpload(req)
	if u == nil {
		s.mu.Unlock()
		return errNoSuchUpload()
	}
	chosen, err := s.checkParts(u, cr.Parts)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	// From here on the upload is gone for everyone else, as in S3, while
	// the parts are joined without holding the lock.
	delete(s.buckets[req.bucket].uploads, u.id)
	s.mu.Unlock()
	defer func() {
		for _, p := range u.parts {
			p.remove()
		}
	}()

	c, err := s.concat(chosen)
	if err != nil {
		return errInternal(fmt.Errorf("joining parts: %w", err))
	}
	h := md5.New()
	for _, p := range chosen {
		h.Write(p.md5)
	}
	o := &object{
		content:     c,
		etag:        fmt.Sprintf(`"%x-%d"`, h.Sum(nil), len(chosen)),
		modTime:     time.Now().UTC(),
		contentType: u.contentType,
		meta:        u.meta,
		parts:       len(chosen),
		partSize:    chosen[0].size,
	}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	old := b.objects[req.key]
	b.objects[req.key] = o
	s.mu.Unlock()
	if old != nil {
		old.remove()
	}
	return writeXML(req.w, http.StatusOK, completeResult{
		Xmlns:    s3Namespace,
		Location: s.url + "/" + uriEncode(req.bucket, true) + "/" + uriEncode(req.key, false),
		Bucket:   req.bucket,
		Key:      req.key,
		ETag:     o.etag,
	})
}

// checkParts validates the part list of CompleteMultipartUpload as S3
// does. Called with s.mu held.
func (s *Server) checkParts(u *upload, list []completePart) ([]*part, error) {
	chosen := make([]*part, 0, len(list))
	for i, cp := range list {
		if i > 0 && cp.PartNumber <= list[i-1].PartNumber {
			return nil, s3Error(http.StatusBadRequest, "InvalidPartOrder",
				"The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
		p := u.parts[cp.PartNumber]
		if p == nil || strings.Trim(cp.ETag, `" `) != strings.Trim(p.etag, `"`) {
			e := s3Error(http.StatusBadRequest, "InvalidPart",
				"One or more of the specified parts could not be found. The part may not have been uploaded, "+
					"or the specified entity tag may not match the part's entity tag.")
			e.extra = []xmlElem{elem("PartNumber", strconv.Itoa(cp.PartNumber)), elem("ETag", cp.ETag)}
			return nil, e
		}
		chosen = append(chosen, p)
	}
	if len(chosen) > MaxParts { // cannot happen with part numbers 1..MaxParts in order; S3 says so anyway
		return nil, s3Error(http.StatusBadRequest, "InvalidRequest", "Part count exceeds the maximum of 10000")
	}
	var total int64
	for _, p := range chosen {
		total += p.size
	}
	if total > MaxObjectSize {
		e := s3Error(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.")
		e.extra = []xmlElem{
			elem("ProposedSize", strconv.FormatInt(total, 10)),
			elem("MaxSizeAllowed", strconv.FormatInt(MaxObjectSize, 10)),
		}
		return nil, e
	}
	for i, p := range chosen[:len(chosen)-1] {
		if p.size < s.minPartSize {
			e := s3Error(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
			e.extra = []xmlElem{
				elem("ProposedSize", strconv.FormatInt(p.size, 10)),
				elem("MinSizeAllowed", strconv.FormatInt(s.minPartSize, 10)),
				elem("PartNumber", strconv.Itoa(list[i].PartNumber)),
				elem("ETag", p.etag),
			}
			return nil, e
		}
	}
	return chosen, nil
}

func (s *Server) abortMultipartUpload(req *request) error {
	s.mu.Lock()
	u := s.findUpload(req)
	if u != nil {
		delete(s.buckets[req.bucket].uploads, u.id)
	}
	s.mu.Unlock()
	if u == nil {
		return errNoSuchUpload()
	}
	for _, p := range u.parts {
		p.remove()
	}
	req.w.WriteHeader(http.StatusNoContent)
	return nil
}

// listMultipartUploads lists the uploads in progress (prefix only, no
// pagination), which is what a client needs to find an upload to resume.
func (s *Server) listMultipartUploads(req *request) error {
	prefix := req.r.URL.Query().Get("prefix")
	res := listUploadsResult{Xmlns: s3Namespace, Bucket: req.bucket, Prefix: prefix, MaxUploads: 1000}
	s.mu.Lock()
	var ups []*upload
	for _, u := range s.buckets[req.bucket].uploads {
		if strings.HasPrefix(u.key, prefix) {
			ups = append(ups, u)
		}
	}
	s.mu.Unlock()
	sort.Slice(ups, func(i, j int) bool {
		if ups[i].key != ups[j].key {
			return ups[i].key < ups[j].key
		}
		return ups[i].initiated.Before(ups[j].initiated)
	})
	for _, u := range ups {
		res.Uploads = append(res.Uploads, uploadEntry{u.key, u.id, u.initiated.Format(isoTime), "STANDARD"})
	}
	return writeXML(req.w, http.StatusOK, res)
}
