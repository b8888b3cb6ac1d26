package realsee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Wire types of the Realsee open platform, as its document gives them.

// envelope wraps every gateway response.
type envelope struct {
	RequestID    string          `json:"request_id"`
	TraceID      string          `json:"trace_id"`
	Code         flexInt         `json:"code"`
	Status       string          `json:"status"`
	Data         json.RawMessage `json:"data"`
	Cost         json.Number     `json:"cost"`
	BusinessCode flexString      `json:"business_code"`
	OSIRequestID string          `json:"osi_request_id"`
}

// Response codes of the envelope.
const (
	codeOK      = 0
	codeFailed  = -1
	codeExpired = -3
)

type accessToken struct {
	AccessToken string  `json:"access_token"`
	ExpireAt    flexInt `json:"expire_at"`
}

// fileToken holds the temporary storage credentials of
// GET /open/v1/pano/file/token. Numbers and booleans have been seen in more
// than one form, hence the flex types.
type fileToken struct {
	TmpSecretID  string     `json:"tmpSecretId"`
	TmpSecretKey string     `json:"tmpSecretKey"`
	SessionToken string     `json:"sessionToken"`
	TTL          flexInt    `json:"ttl"`
	Expire       flexInt    `json:"expire"`
	Prefix       string     `json:"prefix"`
	AppID        flexString `json:"app_id"`
	Bucket       string     `json:"bucket"`
	Region       string     `json:"region"`
	Host         string     `json:"host"`
	IsAccelerate flexBool   `json:"is_accelerate"`
	CustomDomain string     `json:"custom_domain"`
	CustomScheme string     `json:"custom_scheme"`
	DownloadType string     `json:"download_type"`
	DownloadHost string     `json:"download_host"`
}

type submitRequest struct {
	ProjectName   string `json:"project_name"`
	ZipCosURL     string `json:"zip_cos_url,omitempty"`
	PrivateCosKey string `json:"private_cos_key,omitempty"`
}

type submitResponse struct {
	TaskCode  flexString `json:"task_code"`
	ProjectID flexString `json:"project_id"`
}

type taskStatus struct {
	ProjectID flexString `json:"project_id"`
	Status    string     `json:"status"`
	VRURL     string     `json:"vr_url"`
}

// flexInt decodes 3600, "3600", 3600.0 and null.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = flexInt(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = flexInt(f)
	return nil
}

// flexBool decodes true, "1", "true", 1 and their opposites.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(strings.Trim(string(bytes.TrimSpace(b)), `"`)) {
	case "1", "true", "yes":
		*v = true
	case "0", "false", "no", "", "null":
		*v = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// flexString decodes strings and bare numbers.
type flexString string

func (v *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*v = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = flexString(s)
		return nil
	}
	*v = flexString(b)
	return nil
}
