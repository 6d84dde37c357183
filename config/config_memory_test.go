package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/razar/razar"
)

func TestBootConfigMemoryLayersParseEveryProbeKind(t *testing.T) {
	cfg, err := ParseBootConfig("boot_config.json", []byte(`{"components": [], "memory": {"layers": [
		{"name": "vector", "probe": {"tcp": "127.0.0.1:6333"}},
		{"name": "graph", "probe": {"http": "http://127.0.0.1:7474/"}},
		{"name": "cache", "probe": ["./check.sh"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Memory == nil || len(cfg.Memory.Layers) != 3 {
		t.Fatalf("memory = %+v", cfg.Memory)
	}
	for i, kind := range []string{"tcp", "http", "command"} {
		if got := cfg.Memory.Layers[i].Probe.Kind(); got != kind {
			t.Errorf("layer %d probe kind %q, want %q", i, got, kind)
		}
	}
	if cfg, err := ParseBootConfig("b", []byte(`{"components": []}`)); err != nil || cfg.Memory != nil {
		t.Errorf("no memory section: %+v, %v", cfg.Memory, err)
	}
}

func TestBootConfigMemoryErrorsNameTheField(t *testing.T) {
	for _, tt := range []struct{ doc, field string }{
		{`{"layers": [{"name": "vector"}]}`, "memory.layers[0] (vector).probe"},
		{`{"layers": [{"name": "Bad Name", "probe": {"tcp": "x:1"}}]}`, "memory.layers[0] (Bad Name).name"},
		{`{"layers": [{"name": "stream", "probe": {"tcp": "x:1"}}]}`, "memory.layers[0] (stream).name"},
		{`{"layers": [{"name": "a", "probe": {"tcp": "x:1"}}, {"name": "a", "probe": {"tcp": "x:1"}}]}`, "memory.layers[1] (a).name"},
		{`{"layers": [{"name": "a", "probe": {"tcp": "x:1", "http": "http://x"}}]}`, "memory.layers[0]"},
		{`{"layer": []}`, "memory"},
	} {
		_, err := ParseBootConfig("boot_config.json", []byte(`{"components": [], "memory": `+tt.doc+`}`))
		var ce *razar.ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, tt.field) || ce.Fix == "" {
			t.Errorf("%s: error %v, want a config error on field %q with a fix", tt.doc, err, tt.field)
		}
	}
}
