package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Server is a versitygw process started outside a test (by the benchmark,
// cmd/scandrop-bench), with the same layout StartS3 uses: one bucket, objects
// under Root, loopback only.
type Server struct {
	S3
	// Cmd is the running versitygw; its PID lets a benchmark read the
	// server's own CPU time from /proc.
	Cmd *exec.Cmd
	dir string
}

// StartServer starts versitygw (found like VersityGW) on a free loopback
// port with its storage in dir, which must exist, and creates bucket.
// Close stops it; dir is left to the caller.
func StartServer(dir, bucket string) (*Server, error) {
	bin, err := VersityGW()
	if err != nil {
		return nil, err
	}
	data, side := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{data, side} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	s := &Server{dir: dir, S3: S3{AccessKey: "AKIA" + randHex(8), SecretKey: randHex(20), Region: "us-east-1", Bucket: bucket, Root: data}}
	logPath := filepath.Join(dir, "versitygw.log")
	for attempt := 0; attempt < 5 && s.Endpoint == ""; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region,
			"--port", addr, "--quiet", "posix", "--sidecar", side, data)
		logf, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("starting versitygw: %w", err)
		}
		logf.Close()
		if waitListening(addr, 10*time.Second) {
			s.Endpoint, s.Cmd = "http://"+addr, cmd
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	if s.Endpoint == "" {
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("versitygw did not start:\n%s", b)
	}
	s.Client = s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:                 &http.Client{Timeout: 10 * time.Minute},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		s.Close()
		return nil, fmt.Errorf("creating bucket: %w", err)
	}
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error {
	if s.Cmd == nil || s.Cmd.Process == nil {
		return errors.New("not running")
	}
	s.Cmd.Process.Kill()
	s.Cmd.Wait()
	return nil
}
