package minis3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// apiError is an S3 error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
	// extra elements S3 adds for some codes (StringToSign, CanonicalRequest
	// for SignatureDoesNotMatch), which is what makes a signing bug
	// debuggable.
	extra []xmlElem
}

type xmlElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func s3Error(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

func errNotImplemented(what string) *apiError {
	return s3Error(http.StatusNotImplemented, "NotImplemented", "minis3 does not implement "+what)
}

func errInternal(err error) *apiError {
	return s3Error(http.StatusInternalServerError, "InternalError", err.Error())
}

type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
	HostID    string `xml:"HostId"`
	Extra     []xmlElem
}

func writeError(w http.ResponseWriter, r *http.Request, err error, requestID string) {
	var e *apiError
	if !errors.As(err, &e) {
		e = errInternal(err)
	}
	// Reading the rest of the body lets the client finish sending and then
	// read our answer, instead of seeing a reset connection in the middle of
	// a large PUT. With Expect: 100-continue nothing was sent yet, so
	// there is nothing to drain.
	if r.Header.Get("Expect") == "" {
		io.Copy(io.Discard, r.Body)
	}
	if r.Method == http.MethodHead {
		// HEAD answers carry no body; SDKs map the bare status.
		w.WriteHeader(e.Status)
		return
	}
	body, _ := xml.Marshal(errorBody{
		Code:      e.Code,
		Message:   e.Message,
		Resource:  r.URL.Path,
		RequestID: requestID,
		HostID:    requestID,
		Extra:     e.extra,
	})
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(e.Status)
	io.WriteString(w, xml.Header)
	w.Write(body)
}

func writeXML(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return errInternal(err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}
