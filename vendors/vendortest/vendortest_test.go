package vendortest

import (
	"testing"
	"time"
)

func TestMemJournalRoundTripsJSON(t *testing.T) {
	j := NewMemJournal()
	type rec struct {
		At   time.Time
		Size int64
		Tags map[string]int
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := j.Store("k", rec{At: at, Size: 1 << 40, Tags: map[string]int{"a": 1}}); err != nil {
		t.Fatal(err)
	}
	var got rec
	if ok, err := j.Load("k", &got); !ok || err != nil || !got.At.Equal(at) || got.Size != 1<<40 || got.Tags["a"] != 1 {
		t.Errorf("Load = %v, %v, %+v", ok, err, got)
	}
	// Stored values are copies: changing the original later changes nothing.
	var generic map[string]any
	j.Load("k", &generic)
	if _, isFloat := generic["Size"].(float64); !isFloat {
		t.Errorf("a value loaded into any has JSON's types, got %T", generic["Size"])
	}
	if ok, _ := j.Load("missing", &got); ok {
		t.Error("missing key found")
	}
	if err := j.Store("bad", func() {}); err == nil {
		t.Error("a value JSON cannot encode was stored")
	}
	if keys := j.Keys(); len(keys) != 1 || keys[0] != "k" || j.Stores() != 1 {
		t.Errorf("keys %v stores %d", keys, j.Stores())
	}
}

func TestProgressRecorder(t *testing.T) {
	p := &ProgressRecorder{}
	p.Uploaded(5, 10)
	p.Uploaded(10, 10)
	if !p.Complete() || p.Calls() != 2 {
		t.Error("complete progress not seen")
	}
	ft := &recordTB{TB: t}
	p.Uploaded(11, 10)
	p.Check(ft)
	if !ft.failed {
		t.Error("progress over the total not flagged")
	}
}

// recordTB records a failure instead of failing.
type recordTB struct {
	testing.TB
	failed bool
}

func (r *recordTB) Helper()               {}
func (r *recordTB) Errorf(string, ...any) { r.failed = true }
