package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDuration(t *testing.T) {
	cases := []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{in: "10s", want: Duration(10 * time.Second)},
		{in: " 5m ", want: Duration(5 * time.Minute)},
		{in: "2h30m", want: Duration(150 * time.Minute)},
		{in: "500ms", want: Duration(500 * time.Millisecond)},
		{in: "0", want: 0},
		{in: "-1s", want: Duration(-time.Second)},
		{in: "10", wantErr: `"10" is not a duration; write it with a unit, e.g. 10s`},
		{in: "1.5", wantErr: `"1.5" is not a duration; write it with a unit, e.g. 1.5s`},
		{in: "10 s", wantErr: `"10 s" is not a duration; write it like 10s, 5m or 2h`},
		{in: "1d", wantErr: `"1d" is not a duration; write it like 10s, 5m or 2h`},
		{in: "", wantErr: `"" is not a duration; write it like 10s, 5m or 2h`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalText([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || d != tc.want {
				t.Fatalf("got %v, %v; want %v", d, err, tc.want)
			}
			// What MarshalText writes parses back.
			text, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Errorf("round trip %q: %v, %v", text, back, err)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	cases := []struct {
		in      string
		want    ByteSize
		str     string
		wantErr string
	}{
		{in: "16MiB", want: 16 << 20, str: "16MiB"},
		{in: "16mib", want: 16 << 20, str: "16MiB"},
		{in: "8MB", want: 8e6, str: "8MB"},
		{in: "1GiB", want: 1 << 30, str: "1GiB"},
		{in: "5 GiB", want: 5 << 30, str: "5GiB"},
		{in: "2TiB", want: 2 << 40, str: "2TiB"},
		{in: "3KB", want: 3000, str: "3KB"},
		{in: "1024", want: 1024, str: "1KiB"},
		{in: "1000001", want: 1000001, str: "1000001B"},
		{in: "7B", want: 7, str: "7B"},
		{in: "0", want: 0, str: "0"},
		{in: "16XB", wantErr: `"16XB" is not a size; write it like 16MiB, 8MB or a number of bytes`},
		{in: "MiB", wantErr: `"MiB" is not a size; write it like 16MiB, 8MB or a number of bytes`},
		{in: "-1MiB", wantErr: `"-1MiB" is not a size; write it like 16MiB, 8MB or a number of bytes`},
		{in: "1.5GiB", wantErr: `"1.5GiB" is not a size; write it like 16MiB, 8MB or a number of bytes`},
		{in: "9000000TiB", wantErr: `"9000000TiB" is too large`},
		{in: "99999999999999999999", wantErr: `"99999999999999999999" is too large`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var b ByteSize
			err := b.UnmarshalText([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || b != tc.want {
				t.Fatalf("got %d, %v; want %d", b, err, tc.want)
			}
			if b.String() != tc.str {
				t.Errorf("String() = %q, want %q", b.String(), tc.str)
			}
			var back ByteSize
			if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
				t.Errorf("round trip %q: %d, %v", b.String(), back, err)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "S3CR3T-value"
	s := Secret(value)
	if s.Reveal() != value {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	c := &Config{Vendors: Vendors{Realsee: &Realsee{AppKey: "k", AppSecret: s}, Aholo: &Aholo{AppSecret: s}}}

	var outputs []string
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T %[1]v"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, c.Realsee), fmt.Sprintf(verb, *c.Aholo))
	}
	outputs = append(outputs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(c.Realsee))

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(j))
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(y))
	txt, _ := s.MarshalText()
	outputs = append(outputs, string(txt))
	outputs = append(outputs, fmt.Errorf("wrapped: %v / %w", c.Realsee, errors.New(s.String())).Error())

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("cfg", "secret", s, "realsee", c.Realsee, "any", any(s))
		outputs = append(outputs, buf.String())
	}

	for _, o := range outputs {
		if strings.Contains(o, value) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(string(j), `"AppSecret":"[redacted]"`) {
		t.Errorf("JSON: %s", j)
	}
	if !strings.Contains(string(y), "appsecret: '[redacted]'") && !strings.Contains(string(y), "app_secret: '[redacted]'") {
		t.Errorf("YAML: %s", y)
	}
	if got := fmt.Sprintf("%v|%q|%#v", s, s, s); got != "[redacted]|[redacted]|[redacted]" {
		t.Errorf("fmt: %s", got)
	}
}

// The decoding types also work with plain yaml.v3, for code that embeds them
// elsewhere.
func TestTypesWithYAMLv3(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("d: 90s\nb: 8MiB\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.D != Duration(90*time.Second) || v.B != 8*MiB {
		t.Errorf("got %+v", v)
	}
	if err := yaml.Unmarshal([]byte("d: 90\n"), &v); err == nil || !strings.Contains(err.Error(), "write it with a unit") {
		t.Errorf("bare number: %v", err)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d: 1m30s\nb: 8MiB\n" {
		t.Errorf("marshal: %q, %v", out, err)
	}
}
