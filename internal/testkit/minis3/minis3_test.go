package minis3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
)

const (
	testAK     = "AKIDTEST"
	testSK     = "secret/key+test"
	testToken  = "session-token-1"
	testRegion = "ap-northeast-1"
	testBucket = "vrlab-private"
)

func newServer(t *testing.T, mod func(*minis3.Options)) *minis3.Server {
	t.Helper()
	opts := minis3.Options{
		AccessKey: testAK, SecretKey: testSK, SessionToken: testToken,
		Region: testRegion, Buckets: []string{testBucket}, MinPartSize: 1024,
	}
	if mod != nil {
		mod(&opts)
	}
	s := minis3.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

type clientOpts struct {
	ak, sk, token string
	region        string
	retries       int // attempts; 0 = 1 (no retry)
	mod           func(*s3.Options)
}

// newClient configures the SDK the way scandrop must: path style, no
// aws-chunked checksums, the server's URL as the endpoint.
func newClient(srv *minis3.Server, c clientOpts) *s3.Client {
	if c.ak == "" {
		c.ak, c.sk, c.token = testAK, testSK, testToken
	}
	if c.region == "" {
		c.region = testRegion
	}
	attempts := max(c.retries, 1)
	o := s3.Options{
		Region:                     c.region,
		BaseEndpoint:               aws.String(srv.URL()),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(c.ak, c.sk, c.token),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 srv.Client(),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	}
	if c.mod != nil {
		c.mod(&o)
	}
	return s3.New(o)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestObjectRoundTrip(t *testing.T) {
	for _, mode := range []string{"memory", "dir"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "dir" {
				dir = t.TempDir()
			}
			srv := newServer(t, func(o *minis3.Options) { o.Dir = dir })
			c := newClient(srv, clientOpts{})
			ctx := context.Background()
			body := []byte("0123456789abcdefghij")
			keys := []string{
				"vrfile/release/pano/1700000000/my-project.zip",
				"dir/with space+plus&amp=eq ü.zip",
				"double//slash/./dot",
			}
			for _, key := range keys {
				put, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(body),
					ContentType: aws.String("application/zip"), Metadata: map[string]string{"job": "hall"},
				})
				if err != nil {
					t.Fatalf("put %q: %v", key, err)
				}
				if got, want := aws.ToString(put.ETag), `"`+md5hex(body)+`"`; got != want {
					t.Errorf("ETag = %s, want %s", got, want)
				}
				got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("get %q: %v", key, err)
				}
				b, _ := io.ReadAll(got.Body)
				got.Body.Close()
				if !bytes.Equal(b, body) || aws.ToString(got.ContentType) != "application/zip" || got.Metadata["job"] != "hall" {
					t.Errorf("get %q = %q %q %v", key, b, aws.ToString(got.ContentType), got.Metadata)
				}
				if b, ok := srv.Object(testBucket, key); !ok || !bytes.Equal(b, body) {
					t.Errorf("Object(%q) = %q, %v", key, b, ok)
				}
			}

			for _, tc := range []struct{ rng, want string }{
				{"bytes=0-3", "0123"},
				{"bytes=10-", "abcdefghij"},
				{"bytes=-3", "hij"},
				{"bytes=15-100", "fghij"},
			} {
				got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[0]), Range: aws.String(tc.rng)})
				if err != nil {
					t.Fatalf("range %s: %v", tc.rng, err)
				}
				b, _ := io.ReadAll(got.Body)
				got.Body.Close()
				if string(b) != tc.want || got.ContentRange == nil {
					t.Errorf("range %s = %q (Content-Range %v), want %q", tc.rng, b, aws.ToString(got.ContentRange), tc.want)
				}
			}
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[0]), Range: aws.String("bytes=100-")})
			if apiCode(err) != "InvalidRange" || httpStatus(err) != 416 {
				t.Errorf("unsatisfiable range: %v", err)
			}

			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[1])})
			if err != nil || aws.ToInt64(head.ContentLength) != int64(len(body)) {
				t.Fatalf("head: %v %v", head, err)
			}

			list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("dir/")})
			if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != keys[1] {
				t.Fatalf("list dir/: %+v %v", list, err)
			}
			var all []string
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), MaxKeys: aws.Int32(1)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range page.Contents {
					all = append(all, aws.ToString(o.Key))
				}
			}
			if len(all) != 3 {
				t.Errorf("paginated list = %q", all)
			}

			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[0])}); err != nil {
				t.Fatal(err)
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[0])})
			var nsk *types.NoSuchKey
			if !errors.As(err, &nsk) {
				t.Errorf("get deleted: %v, want NoSuchKey", err)
			}
			_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(keys[0])})
			if httpStatus(err) != 404 {
				t.Errorf("head deleted: %v", err)
			}
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("k"), Body: strings.NewReader("x")})
			if apiCode(err) != "NoSuchBucket" {
				t.Errorf("put to unknown bucket: %v", err)
			}
		})
	}
}

func TestMultipart(t *testing.T) {
	for _, mode := range []string{"memory", "dir"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "dir" {
				dir = t.TempDir()
			}
			srv := newServer(t, func(o *minis3.Options) { o.Dir = dir })
			c := newClient(srv, clientOpts{})
			ctx := context.Background()
			key := "vrfile/release/pano/1/big.zip"
			parts := [][]byte{
				bytes.Repeat([]byte("a"), 2000),
				bytes.Repeat([]byte("b"), 1500),
				[]byte("tail"),
			}

			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			uid := up.UploadId
			// Upload the first two, as before an interruption.
			etags := map[int32]string{}
			for i, p := range parts[:2] {
				n := int32(i + 1)
				res, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key),
					UploadId: uid, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
				if err != nil {
					t.Fatal(err)
				}
				etags[n] = aws.ToString(res.ETag)
			}
			before := srv.Stats().BytesReceived

			// Resume: ListParts (paginated) says what is there.
			var listed []types.Part
			lp := s3.NewListPartsPaginator(c, &s3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: uid, MaxParts: aws.Int32(1)})
			for lp.HasMorePages() {
				page, err := lp.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				listed = append(listed, page.Parts...)
			}
			if len(listed) != 2 {
				t.Fatalf("ListParts = %d parts, want 2", len(listed))
			}
			for i, p := range listed {
				if aws.ToInt32(p.PartNumber) != int32(i+1) || aws.ToString(p.ETag) != etags[int32(i+1)] || aws.ToInt64(p.Size) != int64(len(parts[i])) {
					t.Errorf("part %d = %d %s %d", i, aws.ToInt32(p.PartNumber), aws.ToString(p.ETag), aws.ToInt64(p.Size))
				}
			}
			res, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key),
				UploadId: uid, PartNumber: aws.Int32(3), Body: bytes.NewReader(parts[2])})
			if err != nil {
				t.Fatal(err)
			}
			etags[3] = aws.ToString(res.ETag)
			if resent := srv.Stats().BytesReceived - before; resent != int64(len(parts[2])) {
				t.Errorf("resume sent %d bytes, want %d", resent, len(parts[2]))
			}

			complete := func(list ...types.CompletedPart) error {
				_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
					UploadId: uid, MultipartUpload: &types.CompletedMultipartUpload{Parts: list}})
				return err
			}
			cp := func(n int32, etag string) types.CompletedPart {
				return types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
			}
			for _, tc := range []struct {
				name  string
				parts []types.CompletedPart
				code  string
			}{
				{"wrong etag", []types.CompletedPart{cp(1, etags[1]), cp(2, `"0000"`), cp(3, etags[3])}, "InvalidPart"},
				{"missing part", []types.CompletedPart{cp(1, etags[1]), cp(4, etags[3])}, "InvalidPart"},
				{"order", []types.CompletedPart{cp(2, etags[2]), cp(1, etags[1]), cp(3, etags[3])}, "InvalidPartOrder"},
			} {
				if err := complete(tc.parts...); apiCode(err) != tc.code || httpStatus(err) != 400 {
					t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
				}
			}
			if err := complete(cp(1, etags[1]), cp(2, etags[2]), cp(3, etags[3])); err != nil {
				t.Fatal(err)
			}
			want := bytes.Join(parts, nil)
			got, ok := srv.Object(testBucket, key)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("completed object has %d bytes, want %d", len(got), len(want))
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
			if err != nil || !strings.HasSuffix(aws.ToString(head.ETag), `-3"`) {
				t.Errorf("multipart ETag = %v, %v", aws.ToString(head.ETag), err)
			}
			if st := srv.Stats(); st.PartsUploaded != 3 {
				t.Errorf("PartsUploaded = %d", st.PartsUploaded)
			}
			// A completed upload is gone.
			_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: uid})
			var nsu *types.NoSuchUpload
			if !errors.As(err, &nsu) && apiCode(err) != "NoSuchUpload" {
				t.Errorf("ListParts after complete: %v", err)
			}
		})
	}
}

func TestMultipartRules(t *testing.T) {
	srv := newServer(t, func(o *minis3.Options) { o.MinPartSize = 0 }) // default 5 MiB
	c := newClient(srv, clientOpts{})
	ctx := context.Background()
	key := "k"
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var list []types.CompletedPart
	for n, size := range []int{minis3.DefaultMinPartSize - 1, 10} {
		res, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key),
			UploadId: up.UploadId, PartNumber: aws.Int32(int32(n + 1)), Body: bytes.NewReader(make([]byte, size))})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, types.CompletedPart{PartNumber: aws.Int32(int32(n + 1)), ETag: res.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: list}})
	if apiCode(err) != "EntityTooSmall" {
		t.Errorf("complete with a small first part: %v, want EntityTooSmall", err)
	}

	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		UploadId: up.UploadId, PartNumber: aws.Int32(3), Body: strings.NewReader("x")})
	if apiCode(err) != "NoSuchUpload" || httpStatus(err) != 404 {
		t.Errorf("upload part after abort: %v", err)
	}
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: up.UploadId})
	if apiCode(err) != "NoSuchUpload" {
		t.Errorf("abort twice: %v", err)
	}
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		UploadId: aws.String("nope"), PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	if apiCode(err) != "InvalidArgument" {
		t.Errorf("part number 10001: %v", err)
	}

	up2, _ := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String("p/q")})
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(testBucket), Prefix: aws.String("p/")})
	if err != nil || len(ups.Uploads) != 1 || aws.ToString(ups.Uploads[0].UploadId) != aws.ToString(up2.UploadId) {
		t.Errorf("ListMultipartUploads = %+v, %v", ups, err)
	}
}

// A virtual-hosted request names the bucket in Host. The SDK uses path
// style for IP endpoints, so the test uses "localhost" and dials the
// server whatever the name.
func TestVirtualHosted(t *testing.T) {
	srv := newServer(t, nil)
	addr := strings.TrimPrefix(srv.URL(), "http://")
	_, port, _ := net.SplitHostPort(addr)
	var mu sync.Mutex
	var hosts []string
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	c := newClient(srv, clientOpts{mod: func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://localhost:" + port)
		o.UsePathStyle = false
		o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			hosts = append(hosts, r.URL.Host)
			mu.Unlock()
			return tr.RoundTrip(r)
		})}
	}})
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b.zip"), Body: strings.NewReader("vh")}); err != nil {
		t.Fatal(err)
	}
	if b, ok := srv.Object(testBucket, "a/b.zip"); !ok || string(b) != "vh" {
		t.Fatalf("Object = %q %v", b, ok)
	}
	if want := testBucket + ".localhost:" + port; len(hosts) == 0 || hosts[0] != want {
		t.Errorf("request went to %q, want %q", hosts, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAuthentication(t *testing.T) {
	srv := newServer(t, nil)
	ctx := context.Background()
	put := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")})
		return err
	}
	for _, tc := range []struct {
		name   string
		opts   clientOpts
		code   string
		status int
	}{
		{"ok", clientOpts{}, "", 0},
		{"wrong secret", clientOpts{ak: testAK, sk: "wrong", token: testToken}, "SignatureDoesNotMatch", 403},
		{"unknown key", clientOpts{ak: "AKIDOTHER", sk: testSK, token: testToken}, "InvalidAccessKeyId", 403},
		{"missing token", clientOpts{ak: testAK, sk: testSK}, "InvalidToken", 403},
		{"wrong token", clientOpts{ak: testAK, sk: testSK, token: "forged"}, "InvalidToken", 403},
		{"wrong region", clientOpts{region: "us-east-1"}, "AuthorizationHeaderMalformed", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(newClient(srv, tc.opts))
			if apiCode(err) != tc.code || (tc.status != 0 && httpStatus(err) != tc.status) {
				t.Errorf("err = %v, want %s %d", err, tc.code, tc.status)
			}
		})
	}

	srv.SetCredentials("AKIDNEW", "newsecret", "session-token-2")
	if err := put(newClient(srv, clientOpts{})); apiCode(err) != "ExpiredToken" || httpStatus(err) != 400 {
		t.Errorf("old credentials after rotation: %v, want 400 ExpiredToken", err)
	}
	if err := put(newClient(srv, clientOpts{ak: "AKIDNEW", sk: "newsecret", token: testToken})); apiCode(err) != "ExpiredToken" {
		t.Errorf("old token with new key: %v, want ExpiredToken", err)
	}
	if err := put(newClient(srv, clientOpts{ak: "AKIDNEW", sk: "newsecret", token: "session-token-2"})); err != nil {
		t.Errorf("new credentials: %v", err)
	}

	res, err := http.Get(srv.URL() + "/" + testBucket + "/k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) || !bytes.Contains(body, []byte("<RequestId>")) {
		t.Errorf("anonymous GET = %d %s", res.StatusCode, body)
	}
}

// signedRequest signs a raw request with the SDK's signer, for what the S3
// client would never send.
func signedRequest(t *testing.T, srv *minis3.Server, method, path string, body []byte, payloadHash string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	req.Header.Set("X-Amz-Security-Token", testToken)
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK, SessionToken: testToken}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, req, payloadHash, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func errorCode(t *testing.T, res *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	s := string(b)
	_, s, _ = strings.Cut(s, "<Code>")
	s, _, _ = strings.Cut(s, "</Code>")
	return s
}

func TestPayloadVerification(t *testing.T) {
	srv := newServer(t, nil)
	body := []byte("payload")
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	other := sha256.Sum256([]byte("other"))
	for _, tc := range []struct {
		name        string
		payloadHash string
		hdr         map[string]string
		status      int
		code        string
	}{
		{"hashed", good, nil, 200, ""},
		{"unsigned payload", "UNSIGNED-PAYLOAD", nil, 200, ""},
		{"hash mismatch", hex.EncodeToString(other[:]), nil, 400, "XAmzContentSHA256Mismatch"},
		{"bad content-md5", good, map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, 400, "BadDigest"},
		{"bad crc32", good, map[string]string{"X-Amz-Checksum-Crc32": "AAAAAA=="}, 400, "BadDigest"},
		{"streaming", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, 400, "InvalidArgument"},
		{"streaming signed", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", map[string]string{"Content-Encoding": "aws-chunked"}, 400, "InvalidArgument"},
		{"trailer only", "UNSIGNED-PAYLOAD", map[string]string{"X-Amz-Trailer": "x-amz-checksum-crc32"}, 400, "InvalidArgument"},
		{"not a hash", "abc", nil, 400, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := signedRequest(t, srv, "PUT", "/"+testBucket+"/obj", body, tc.payloadHash, tc.hdr)
			if res.StatusCode != tc.status {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, b)
			}
			if tc.code != "" {
				if code := errorCode(t, res); code != tc.code {
					t.Errorf("code %s, want %s", code, tc.code)
				}
			}
		})
	}
	res := signedRequest(t, srv, "PUT", "/"+testBucket+"/obj", body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", nil)
	if b, _ := io.ReadAll(res.Body); !bytes.Contains(b, []byte("aws-chunked uploads are not supported")) {
		t.Errorf("aws-chunked answer does not say why: %s", b)
	}
}

// Over HTTPS the SDK's default is an aws-chunked body with a trailing
// CRC32; the server refuses it, and the WhenRequired setting avoids it.
func TestAWSChunkedOverTLS(t *testing.T) {
	srv := newServer(t, func(o *minis3.Options) { o.TLS = true })
	ctx := context.Background()
	in := func() *s3.PutObjectInput {
		return &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: bytes.NewReader([]byte("secure"))}
	}
	sdkDefault := newClient(srv, clientOpts{mod: func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	}})
	_, err := sdkDefault.PutObject(ctx, in())
	if apiCode(err) != "InvalidArgument" || !strings.Contains(err.Error(), "aws-chunked") {
		t.Errorf("SDK default over TLS: %v, want the aws-chunked refusal", err)
	}
	if _, err := newClient(srv, clientOpts{}).PutObject(ctx, in()); err != nil {
		t.Errorf("WhenRequired over TLS: %v", err)
	}
	if b, _ := srv.Object(testBucket, "k"); string(b) != "secure" {
		t.Errorf("object = %q", b)
	}
}

func TestChecksumsVerified(t *testing.T) {
	if got := crc64.Checksum([]byte("123456789"), crc64.MakeTable(0x9a6c9329ac4bc9b5)); got != 0xae8b14860a799888 {
		t.Fatalf("CRC-64/NVME check value = %x", got)
	}
	srv := newServer(t, nil)
	c := newClient(srv, clientOpts{})
	for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"),
			Body: bytes.NewReader([]byte("checked body")), ChecksumAlgorithm: alg})
		if err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

func TestPresignedGet(t *testing.T) {
	srv := newServer(t, nil)
	c := newClient(srv, clientOpts{})
	ctx := context.Background()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("p/z.zip"), Body: strings.NewReader("zipdata")}); err != nil {
		t.Fatal(err)
	}
	ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String("p/z.zip")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "zipdata" {
		t.Errorf("presigned GET = %d %q", res.StatusCode, b)
	}
	res, err = http.Get(strings.Replace(ps.URL, "z.zip", "y.zip", 1))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("tampered presigned GET = %d, want 403", res.StatusCode)
	}
}

func TestFailNext(t *testing.T) {
	srv := newServer(t, nil)
	ctx := context.Background()
	put := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")})
		return err
	}

	srv.FailNext(1, 503, "SlowDown")
	err := put(newClient(srv, clientOpts{}))
	if apiCode(err) != "SlowDown" || httpStatus(err) != 503 {
		t.Errorf("err = %v, want 503 SlowDown", err)
	}
	if _, ok := srv.Object(testBucket, "k"); ok {
		t.Error("a failed request stored the object")
	}

	// The SDK retries 503s; two failures then success.
	srv.FailNext(2, 503, "SlowDown")
	before := srv.Stats().Requests
	if err := put(newClient(srv, clientOpts{retries: 3})); err != nil {
		t.Fatalf("with retries: %v", err)
	}
	if n := srv.Stats().Requests - before; n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestDirRemovedOnClose(t *testing.T) {
	dir := t.TempDir()
	srv := minis3.NewServer(minis3.Options{AccessKey: testAK, SecretKey: testSK, Buckets: []string{testBucket}, Dir: dir})
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(testAK, testSK, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	rc, size, err := srv.OpenObject(testBucket, "k")
	if err != nil || size != 1 {
		t.Fatal(size, err)
	}
	if _, ok := rc.(io.ReaderAt); !ok {
		t.Errorf("OpenObject reader %T is not an io.ReaderAt", rc)
	}
	rc.Close()
	srv.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("Close left %v", entries)
	}
	if _, _, err := srv.OpenObject(testBucket, "missing"); !errors.Is(err, minis3.ErrNotFound) {
		t.Errorf("OpenObject(missing) = %v", err)
	}
}

func md5hex(b []byte) string {
	return fmt.Sprintf("%x", md5.Sum(b))
}
