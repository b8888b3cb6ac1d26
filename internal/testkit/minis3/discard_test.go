package minis3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
)

// A Discard server checks every body as strictly as the others and keeps
// none: objects have their size, ETag and part layout, the memory stays
// flat however much is sent, and the multipart rules still hold.
func TestDiscard(t *testing.T) {
	srv := newServer(t, func(o *minis3.Options) { o.Discard = true; o.MinPartSize = 0 })
	c := newClient(srv, clientOpts{})
	ctx := context.Background()

	// One PUT, signed payload.
	body := bytes.Repeat([]byte("x"), 1000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("small"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("small")})
	if err != nil || aws.ToInt64(head.ContentLength) != 1000 {
		t.Fatalf("HeadObject = %+v, %v", head, err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("small")})
	if apiCode(err) != "NotImplemented" || httpStatus(err) != 501 {
		t.Errorf("GetObject of a discarded body: %v, want 501 NotImplemented", err)
	}
	if _, _, err := srv.OpenObject(testBucket, "small"); !errors.Is(err, minis3.ErrDiscarded) {
		t.Errorf("OpenObject = %v, want ErrDiscarded", err)
	}
	// An unsigned payload has its MD5 as ETag: the client's only check.
	res := signedRequest(t, srv, "PUT", "/"+testBucket+"/unsigned", body, "UNSIGNED-PAYLOAD", nil)
	if res.StatusCode != 200 || res.Header.Get("ETag") != `"`+md5hex(body)+`"` {
		t.Errorf("unsigned PUT: %d, ETag %s; want the MD5 %s", res.StatusCode, res.Header.Get("ETag"), md5hex(body))
	}
	// Bodies are still verified.
	other := md5.Sum([]byte("other"))
	for name, hdr := range map[string]map[string]string{
		"bad content-md5": {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="},
		"bad checksum":    {"X-Amz-Checksum-Crc32": "AAAAAA=="},
	} {
		if res := signedRequest(t, srv, "PUT", "/"+testBucket+"/bad", body, "UNSIGNED-PAYLOAD", hdr); errorCode(t, res) != "BadDigest" {
			t.Errorf("%s: status %d, want BadDigest", name, res.StatusCode)
		}
	}
	if res := signedRequest(t, srv, "PUT", "/"+testBucket+"/bad", body, fmt.Sprintf("%x%x", other, other), nil); errorCode(t, res) != "XAmzContentSHA256Mismatch" {
		t.Errorf("wrong signed SHA-256: status %d", res.StatusCode)
	}
	if _, ok := srv.Stat(testBucket, "bad"); ok {
		t.Error("a refused body made an object")
	}

	// Multipart: 24 parts of 5 MiB and a tail, about 120 MiB, in flat memory.
	const partSize = minis3.DefaultMinPartSize
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), partSize)
	var list []types.CompletedPart
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapInuse
	sent := srv.Stats().BytesReceived
	for n := int32(1); n <= 25; n++ {
		b := part
		if n == 25 {
			b = []byte("tail")
		}
		res, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String("big"),
			UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(b)})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, types.CompletedPart{PartNumber: aws.Int32(n), ETag: res.ETag})
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapInuse) - int64(heapBefore); grew > 32<<20 {
		t.Errorf("the heap grew by %d MiB for %d MiB of parts", grew>>20, 24*partSize>>20)
	}
	// Out of order and a missing part are refused as ever.
	swapped := []types.CompletedPart{list[1], list[0]}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("big"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: swapped}})
	if apiCode(err) != "InvalidPartOrder" {
		t.Errorf("parts out of order: %v", err)
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("big"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: list}})
	if err != nil {
		t.Fatal(err)
	}
	info, ok := srv.Stat(testBucket, "big")
	want := int64(24*partSize + 4)
	if !ok || info.Size != want || info.Parts != 25 || info.PartSize != partSize || srv.Stats().BytesReceived-sent != want {
		t.Fatalf("Stat = %+v, %v; received %d; want %d bytes in 25 parts of %d", info, ok, srv.Stats().BytesReceived-sent, want, partSize)
	}
}

// S3 refuses a PUT or a part over 5 GiB from its Content-Length, before
// the body; so does the server, and reads none of it.
func TestEntityTooLarge(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(srv, clientOpts{})
	up, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/" + testBucket + "/k", "/" + testBucket + "/k?partNumber=1&uploadId=" + aws.ToString(up.UploadId)} {
		req, err := http.NewRequest("PUT", srv.URL()+path, io.NopCloser(neverRead{t}))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = minis3.MaxPartSize + 1
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		req.Header.Set("X-Amz-Security-Token", testToken)
		creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK, SessionToken: testToken}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		hc := srv.Client()
		hc.Transport.(*http.Transport).ExpectContinueTimeout = time.Minute
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !bytes.Contains(b, []byte("<Code>EntityTooLarge</Code>")) ||
			!bytes.Contains(b, []byte("<MaxSizeAllowed>"+strconv.Itoa(minis3.MaxPartSize)+"</MaxSizeAllowed>")) {
			t.Errorf("PUT %s of 5 GiB + 1: %d %s", path, res.StatusCode, b)
		}
	}
	if n := srv.Stats().BytesReceived; n != 0 {
		t.Errorf("%d body bytes read", n)
	}
}

// neverRead is a body the server must refuse before reading.
type neverRead struct{ t *testing.T }

func (r neverRead) Read([]byte) (int, error) {
	r.t.Error("the body was read")
	return 0, errors.New("the body must not be read")
}
