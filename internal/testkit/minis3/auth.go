package minis3

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4, verified the way S3 does:
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html

const (
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	amzDateFormat   = "20060102T150405Z"
	maxClockSkew    = 15 * time.Minute
	maxPresignLife  = 7 * 24 * time.Hour
)

var urlPathUnescape = url.PathUnescape

// rejectChunked refuses aws-chunked bodies (STREAMING-* payload hashes,
// trailing checksums). Tencent COS and many S3-compatible stores refuse or
// corrupt them, and recent AWS SDKs send them by default over HTTPS, so a
// client must be configured not to; this server keeps it honest.
func rejectChunked(r *http.Request) error {
	sha := r.Header.Get("X-Amz-Content-Sha256")
	chunked := strings.HasPrefix(sha, "STREAMING-") ||
		has(r, "X-Amz-Trailer") ||
		has(r, "X-Amz-Decoded-Content-Length") ||
		strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Content-Encoding"), ",")), "aws-chunked")
	if !chunked {
		return nil
	}
	return s3Error(http.StatusBadRequest, "InvalidArgument",
		"aws-chunked uploads are not supported (x-amz-content-sha256 STREAMING-*, x-amz-trailer, "+
			"Content-Encoding: aws-chunked); send a plain body. With aws-sdk-go-v2 set "+
			"RequestChecksumCalculation to aws.RequestChecksumCalculationWhenRequired")
}

// sigRequest is what a request says about its signature.
type sigRequest struct {
	accessKey, date, region, service, terminator string
	signedHeaders                                string
	signature                                    string
	amzDate                                      string
	token                                        string
	presigned                                    bool
	expires                                      time.Duration
}

// authenticate verifies the signature and credentials and returns the
// payload hash the request committed to (hex SHA-256 or UNSIGNED-PAYLOAD),
// which the handlers check against the body they read.
func (s *Server) authenticate(r *http.Request) (string, error) {
	s.mu.Lock()
	creds := s.creds
	s.mu.Unlock()

	var sr sigRequest
	var err error
	q := r.URL.Query()
	switch {
	case r.Header.Get("Authorization") != "":
		sr, err = parseAuthHeader(r)
	case q.Get("X-Amz-Algorithm") != "":
		sr, err = parsePresigned(q)
	default:
		return "", s3Error(http.StatusForbidden, "AccessDenied",
			"Access Denied: anonymous requests are not allowed; sign requests with AWS Signature V4")
	}
	if err != nil {
		return "", err
	}

	if err := s.checkCredentials(sr, creds); err != nil {
		return "", err
	}
	if sr.date != sr.amzDate[:min(8, len(sr.amzDate))] {
		return "", s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"Invalid credential date "+sr.date+": it is not the date of X-Amz-Date "+sr.amzDate)
	}
	if sr.region != s.region {
		e := s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", sr.region, s.region))
		e.extra = []xmlElem{elem("Region", s.region)}
		return "", e
	}
	if sr.service != "s3" || sr.terminator != "aws4_request" {
		return "", s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The credential scope must end in /s3/aws4_request, not /"+sr.service+"/"+sr.terminator)
	}
	t, err := time.Parse(amzDateFormat, sr.amzDate)
	if err != nil {
		return "", s3Error(http.StatusForbidden, "AccessDenied", "X-Amz-Date must be in the form 20060102T150405Z")
	}
	now := time.Now()
	if sr.presigned {
		if now.After(t.Add(sr.expires)) {
			return "", s3Error(http.StatusForbidden, "AccessDenied", "Request has expired")
		}
		if t.Sub(now) > maxClockSkew {
			return "", s3Error(http.StatusForbidden, "RequestTimeTooSkewed",
				"The difference between the request time and the current time is too large.")
		}
	} else if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return "", s3Error(http.StatusForbidden, "RequestTimeTooSkewed",
			"The difference between the request time and the current time is too large.")
	}

	signed := strings.Split(sr.signedHeaders, ";")
	if !contains(signed, "host") {
		return "", s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed", "SignedHeaders must include host")
	}
	if !sr.presigned {
		var unsigned []string
		for name := range r.Header {
			l := strings.ToLower(name)
			if strings.HasPrefix(l, "x-amz-") && !contains(signed, l) {
				unsigned = append(unsigned, l)
			}
		}
		if len(unsigned) > 0 {
			sort.Strings(unsigned)
			e := s3Error(http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed")
			e.extra = []xmlElem{elem("HeadersNotSigned", strings.Join(unsigned, ", "))}
			return "", e
		}
	}

	payloadHash := strings.ToLower(r.Header.Get("X-Amz-Content-Sha256"))
	switch {
	case payloadHash == "" && sr.presigned:
		payloadHash = unsignedPayload
	case payloadHash == "":
		return "", s3Error(http.StatusBadRequest, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
	case payloadHash == strings.ToLower(unsignedPayload):
		payloadHash = unsignedPayload
	case !isHexSHA256(payloadHash):
		return "", s3Error(http.StatusBadRequest, "InvalidArgument",
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body")
	}

	creq := canonicalRequest(r, signed, sr.signedHeaders, payloadHash, sr.presigned)
	scope := strings.Join([]string{sr.date, sr.region, sr.service, sr.terminator}, "/")
	sum := sha256.Sum256([]byte(creq))
	stringToSign := sigAlgorithm + "\n" + sr.amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := signingKey(creds.secretKey, sr.date, sr.region, sr.service)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(sr.signature))) {
		e := s3Error(http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		e.extra = []xmlElem{
			elem("AWSAccessKeyId", sr.accessKey),
			elem("StringToSign", stringToSign),
			elem("SignatureProvided", sr.signature),
			elem("CanonicalRequest", creq),
		}
		return "", e
	}
	return payloadHash, nil
}

func (s *Server) checkCredentials(sr sigRequest, creds credentials) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	expired := s3Error(http.StatusBadRequest, "ExpiredToken", "The provided token has expired.")
	if sr.accessKey != creds.accessKey {
		if s.oldKeys[sr.accessKey] {
			return expired
		}
		return s3Error(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	}
	if sr.token == creds.sessionToken {
		return nil
	}
	if sr.token != "" && s.oldKeys[sr.token] {
		return expired
	}
	if sr.token == "" {
		return s3Error(http.StatusForbidden, "InvalidToken",
			"The request carries no X-Amz-Security-Token but the credentials are temporary and need one.")
	}
	return s3Error(http.StatusForbidden, "InvalidToken", "The provided token is malformed or otherwise invalid.")
}

func parseAuthHeader(r *http.Request) (sigRequest, error) {
	auth := r.Header.Get("Authorization")
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != sigAlgorithm {
		return sigRequest{}, s3Error(http.StatusBadRequest, "InvalidRequest",
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	sr := sigRequest{
		signedHeaders: fields["SignedHeaders"],
		signature:     fields["Signature"],
		amzDate:       r.Header.Get("X-Amz-Date"),
		token:         r.Header.Get("X-Amz-Security-Token"),
	}
	if sr.amzDate == "" {
		return sr, s3Error(http.StatusForbidden, "AccessDenied", "AWS authentication requires a valid X-Amz-Date header")
	}
	if sr.signedHeaders == "" || sr.signature == "" {
		return sr, s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The authorization header is malformed; it needs Credential, SignedHeaders and Signature")
	}
	return sr, parseCredential(&sr, fields["Credential"])
}

func parsePresigned(q url.Values) (sigRequest, error) {
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return sigRequest{}, s3Error(http.StatusBadRequest, "InvalidRequest",
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	sr := sigRequest{
		signedHeaders: q.Get("X-Amz-SignedHeaders"),
		signature:     q.Get("X-Amz-Signature"),
		amzDate:       q.Get("X-Amz-Date"),
		token:         q.Get("X-Amz-Security-Token"),
		presigned:     true,
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxPresignLife {
		return sr, s3Error(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"X-Amz-Expires must be a number of seconds between 1 and 604800")
	}
	sr.expires = time.Duration(secs) * time.Second
	if sr.amzDate == "" || sr.signedHeaders == "" || sr.signature == "" {
		return sr, s3Error(http.StatusBadRequest, "AuthorizationQueryParametersError",
			"Query-string authentication needs X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature")
	}
	return sr, parseCredential(&sr, q.Get("X-Amz-Credential"))
}

func parseCredential(sr *sigRequest, cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return s3Error(http.StatusBadRequest, "AuthorizationHeaderMalformed",
			"The credential must be <access key>/<date>/<region>/s3/aws4_request, got "+strconv.Quote(cred))
	}
	sr.accessKey, sr.date, sr.region, sr.service, sr.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

func canonicalRequest(r *http.Request, signed []string, signedHeaders, payloadHash string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL.EscapedPath()))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, presigned))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI encodes each path segment once, without normalising the
// path: S3 keys may contain "//" and "..".
func canonicalURI(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, seg := range segs {
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		segs[i] = uriEncode(seg, true)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(raw string, presigned bool) string {
	type pair struct{ k, v string }
	var pairs []pair
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if u, err := url.QueryUnescape(k); err == nil {
			k = u
		}
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	s := make([]string, len(pairs))
	for i, p := range pairs {
		s[i] = p.k + "=" + p.v
	}
	return strings.Join(s, "&")
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		if r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
		return ""
	case "transfer-encoding":
		return strings.Join(r.TransferEncoding, ",")
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// uriEncode is the URI encoding SigV4 prescribes: everything but the
// unreserved characters is %XX-encoded, and "/" only where asked.
func uriEncode(s string, encodeSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func elem(name, value string) xmlElem {
	e := xmlElem{Value: value}
	e.XMLName.Local = name
	return e
}
