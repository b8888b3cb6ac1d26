package realsee

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/scandrop/scandrop/vendors"
)

// maxPut is the largest object S3 takes in one PUT.
const maxPut = 5 << 30

// errTooLargeForPut is the answer for an archive that only a multipart
// upload could carry, to a store that refuses multipart uploads: sending
// it whole would be refused after gigabytes (or, by a lax store, cut).
func errTooLargeForPut(size int64, cause error) error {
	return vendors.E(vendors.Rejected, "realsee: upload", fmt.Errorf(
		"the archive is %s (%d bytes), larger than the %s one PUT may carry, and the store refuses multipart uploads (%v); "+
			"ask the vendor for storage that takes multipart uploads, or split the scans into drops under %s",
		humanBytes(size), size, humanBytes(maxPut), cause, humanBytes(maxPut)))
}

// putWhole sends the archive in one PutObject, as the vendor's document
// does: for an archive no larger than a part (a multipart upload would send
// one request anyway) and for stores that do not offer multipart uploads.
// The body is read from the files as it goes, like a part.
func (m *multipart) putWhole(ctx context.Context) error {
	const op = "realsee: upload"
	if m.st.Size > maxPut {
		return errTooLargeForPut(m.st.Size, errors.New("no multipart upload was tried"))
	}
	if err := m.crc.waitFor(ctx, m.st.Size); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		body := &hashingSection{sr: io.NewSectionReader(m.arch, 0, m.st.Size), sent: m.sent}
		body.reset()
		out, err := m.s3.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &m.st.Storage.Bucket, Key: &m.st.Key, Body: body,
			ContentLength: aws.Int64(m.st.Size), ContentType: aws.String("application/zip"),
		})
		if err != nil {
			if bad := m.arch.changed(); bad != nil {
				return bad
			}
			if isCredentialError(err) && attempt < 2 {
				m.creds.Invalidate()
				continue
			}
			return s3Err(op+": put", err)
		}
		etag := aws.ToString(out.ETag)
		if sum := body.sum(); sum != "" && isMD5ETag(etag) && strings.Trim(etag, `"`) != sum {
			if attempt < 2 {
				continue
			}
			return vendors.E(vendors.Transient, op, "the store received different bytes than were sent (ETag mismatch)")
		}
		m.done.Store(m.st.Size)
		m.report()
		m.st.Done, m.st.UploadID, m.st.Parts = true, "", nil
		return m.j.Store(journalUpload, m.st)
	}
}

// multipartUnsupported reports whether the store refused the multipart API
// itself, as minimal S3-compatible stores do.
func multipartUnsupported(err error) bool {
	switch apiCode(err) {
	case "NotImplemented", "MethodNotAllowed":
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		s := re.HTTPStatusCode()
		return s == http.StatusNotImplemented || s == http.StatusMethodNotAllowed
	}
	return false
}
