//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scandrop/scandrop/internal/testkit/testenv"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// store is one S3 server on loopback with its own fake Realsee gateway
// (the gateway's upload credentials point at this store).
type store struct {
	Name string
	testenv.S3
	cmd     *exec.Cmd // the server process, for its CPU time
	gwURL   string    // the fake Realsee gateway, through the timing wrapper
	gwTimes *pathTimes
	close   []func()
}

// cpu is the server's CPU time so far.
func (s *store) cpu() time.Duration {
	d, _ := cpuTime(s.cmd.Process.Pid)
	return d
}

func (s *store) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
}

// withGateway starts the fake Realsee gateway in front of s.
func (s *store) withGateway() {
	gw := realseetest.NewServer(realseetest.Options{
		AppKey: "bench-key", AppSecret: "bench-secret",
		S3Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey,
		ProcessingPolls: -1, CredentialsTTL: 3600,
	})
	s.gwTimes = &pathTimes{}
	gws := httptest.NewServer(s.gwTimes.wrap(gw))
	s.gwURL = gws.URL
	s.close = append(s.close, gw.Close, gws.Close)
}

// startVersityGW starts versitygw (testenv finds it: $SCANDROP_VERSITYGW or
// .tools/bin) with its storage under dir.
func startVersityGW(dir string) (*store, error) {
	srv, err := testenv.StartServer(dir, "vrlab-bench")
	if err != nil {
		return nil, err
	}
	s := &store{Name: "versitygw", S3: srv.S3, cmd: srv.Cmd}
	s.close = append(s.close, func() { srv.Close() })
	s.withGateway()
	return s, nil
}

// minioBinary finds MinIO: $SCANDROP_MINIO, else .tools/bin/minio (`make
// tools-bench` installs it, pinned in tools/go.mod).
func minioBinary() (string, error) {
	if p := os.Getenv("SCANDROP_MINIO"); p != "" {
		return p, nil
	}
	p, err := filepath.Abs(filepath.Join(".tools", "bin", "minio"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found: `make bench` installs it (or set SCANDROP_MINIO)", p)
	}
	return p, nil
}

// startMinIO starts MinIO in single-drive mode on a free loopback port,
// its data under dir, and creates the bucket.
func startMinIO(ctx context.Context, dir string) (*store, error) {
	bin, err := minioBinary()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	s := &store{Name: "minio", S3: testenv.S3{AccessKey: "benchadmin", SecretKey: "bench-secret-key", Region: "us-east-1",
		Bucket: "vrlab-bench", Root: data}}
	logPath := filepath.Join(dir, "minio.log")
	for attempt := 0; attempt < 5 && s.cmd == nil; attempt++ {
		addr, console := freeAddr(), freeAddr()
		cmd := exec.Command(bin, "server", "--quiet", "--address", addr, "--console-address", console, data)
		cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
			"MINIO_BROWSER=off", "MINIO_REGION="+s.Region, "MINIO_UPDATE=off")
		logf, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("starting minio: %w", err)
		}
		logf.Close()
		if waitHTTP("http://"+addr+"/minio/health/live", 60*time.Second) {
			s.Endpoint, s.cmd = "http://"+addr, cmd
			break
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	if s.cmd == nil {
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("minio did not start:\n%s", b)
	}
	cmd := s.cmd
	s.close = append(s.close, func() { cmd.Process.Kill(); cmd.Wait() })
	s.Client = s3.New(s3.Options{
		Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:                 &http.Client{Timeout: 10 * time.Minute},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := s.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket}); err != nil {
		s.Close()
		return nil, fmt.Errorf("minio: creating bucket: %w", err)
	}
	s.withGateway()
	return s, nil
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(url string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}
