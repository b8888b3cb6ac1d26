package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHTTPAndNotify(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := minimal + `http: {}
notify:
  webhooks:
    - url: https://hooks.example.com/x?token=${TOKEN}
    - url: http://127.0.0.1:9/y
      secret_file: hook.secret
      events: [failed]
      timeout: 3s
      attempts: 2
  commands:
    - run: [hooks/on-done.sh, --flag]
      events: [done]
    - run: [sh, -c, 'echo "$SCANDROP_RESULT"']
      timeout: 5s
`
	c, err := ParseEnv([]byte(y), file, envMap(map[string]string{"TOKEN": "t0k"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP == nil || c.HTTP.Listen != "127.0.0.1:9180" {
		t.Errorf("http: %+v, want on at the loopback default", c.HTTP)
	}
	want := Notify{
		Webhooks: []Webhook{
			{URL: "https://hooks.example.com/x?token=t0k", Events: []string{"done", "failed"}, Timeout: Duration(10 * time.Second), Attempts: 8},
			{URL: "http://127.0.0.1:9/y", Secret: "file-secret", SecretFile: filepath.Join(dir, "hook.secret"), Events: []string{"failed"}, Timeout: Duration(3 * time.Second), Attempts: 2},
		},
		Commands: []Command{
			{Run: []string{filepath.Join(dir, "hooks", "on-done.sh"), "--flag"}, Events: []string{"done"}, Timeout: Duration(time.Minute)},
			{Run: []string{"sh", "-c", `echo "$SCANDROP_RESULT"`}, Events: []string{"done", "failed"}, Timeout: Duration(5 * time.Second)},
		},
	}
	if !reflect.DeepEqual(c.Notify, want) {
		t.Errorf("notify:\n got %#v\nwant %#v", c.Notify, want)
	}

	// Off by default.
	c, err = ParseEnv([]byte(minimal), file, envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != nil || len(c.Notify.Webhooks)+len(c.Notify.Commands) != 0 {
		t.Errorf("defaults: http %+v, notify %+v", c.HTTP, c.Notify)
	}
}

func TestHTTPAndNotifyErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	cases := []struct {
		yaml string
		want []string
	}{
		{"http:\n  listen: localhost\n", []string{`{file}:4: http.listen: "localhost" is not host:port, e.g. 127.0.0.1:9180`}},
		{"http:\n  listen: ':http'\n", []string{`{file}:4: http.listen: ":http": the port must be a number from 0 to 65535`}},
		{"http:\n  port: 1\n", []string{`{file}:4: unknown key "port" in http (known: listen, token, token_file)`}},
		{"notify:\n  webhooks:\n    - events: [done]\n", []string{`{file}:5: notify.webhooks[0]: url is required`}},
		{"notify:\n  webhooks:\n    - url: ftp://host/secret-token\n", []string{`{file}:5: notify.webhooks[0].url: must start with https:// or http://`}},
		{"notify:\n  webhooks:\n    - url: https://h/\n      events: [finished]\n      attempts: 0\n      timeout: 0s\n",
			[]string{
				`{file}:6: notify.webhooks[0].events[0]: "finished" is not one of done, failed`,
				`{file}:7: notify.webhooks[0].attempts: must be at least 1 (got 0)`,
				`{file}:8: notify.webhooks[0].timeout: must be more than 0 (got 0s)`,
			}},
		{"notify:\n  webhooks:\n    - url: https://h/\n      secret: a\n      secret_file: b\n",
			[]string{`{file}:7: notify.webhooks[0]: secret and secret_file are both set; keep one`}},
		{"notify:\n  commands:\n    - run: /bin/true\n", []string{`{file}:5: notify.commands[0].run: expected a list (- item lines), found a single value`}},
		{"notify:\n  commands:\n    - events: [done]\n", []string{`{file}:5: notify.commands[0]: run is required: the program and its arguments, as a list`}},
	}
	for _, tc := range cases {
		t.Run(strings.SplitN(tc.yaml, "\n", 2)[0]+tc.want[0][10:30], func(t *testing.T) {
			_, err := ParseEnv([]byte(minimal+tc.yaml), file, envMap(nil))
			wantLines(t, err, file, dir, tc.want)
			if err != nil && strings.Contains(err.Error(), "secret-token") {
				t.Error("the error shows the webhook URL")
			}
		})
	}
}
