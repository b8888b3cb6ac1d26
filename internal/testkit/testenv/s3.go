// Package testenv starts the real servers that tests run against: an S3
// server (versitygw) on loopback, installed by `make test` into .tools/.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 is a running S3 server.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	Bucket    string // created for the test
	Root      string // where the objects live on disk
	Client    *s3.Client
}

// VersityGW finds the versitygw binary: $SCANDROP_VERSITYGW, else
// .tools/bin/versitygw at the module root.
func VersityGW() (string, error) {
	if p := os.Getenv("SCANDROP_VERSITYGW"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".tools", "bin", "versitygw")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s not found: run `make test`, which installs it", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// StartS3 starts versitygw on a free loopback port for the test, with one
// bucket, and stops it when the test ends.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin, err := VersityGW()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	data, side := filepath.Join(root, "data"), filepath.Join(root, "meta")
	os.MkdirAll(data, 0o755)
	os.MkdirAll(side, 0o755)
	s := &S3{AccessKey: "AKIA" + randHex(8), SecretKey: randHex(20), Region: "us-east-1", Bucket: "vrlab-test", Root: data}

	var cmd *exec.Cmd
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd = exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
			"--port", addr, "--quiet", "posix", "--sidecar", side, data)
		logf, _ := os.Create(filepath.Join(root, "versitygw.log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting versitygw: %v", err)
		}
		if waitListening(addr, 10*time.Second) {
			s.Endpoint = "http://" + addr
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	if s.Endpoint == "" {
		b, _ := os.ReadFile(filepath.Join(root, "versitygw.log"))
		t.Fatalf("versitygw did not start:\n%s", b)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s.Client = s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:                 &http.Client{Timeout: time.Minute},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		t.Fatalf("creating bucket: %v", err)
	}
	return s
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
