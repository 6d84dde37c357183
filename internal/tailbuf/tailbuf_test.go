package tailbuf

import "testing"

func TestBuffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "empty", want: ""},
		{name: "fits", writes: []string{"ab", "cd"}, want: "abcd"},
		{name: "exactly max", writes: []string{"abcdef"}, want: "abcdef"},
		{name: "one big write", writes: []string{"0123456789"}, want: "...456789"},
		{name: "many small writes", writes: []string{"0123", "4567", "89"}, want: "...456789"},
		{name: "big after small", writes: []string{"xy", "abcdef"}, want: "...abcdef"},
		{name: "cut rune dropped", writes: []string{"aé12345"}, want: "...12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(6)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String = %q, want %q", got, tt.want)
			}
			if b.Cut() != (len(tt.want) > 3 && tt.want[:3] == "...") {
				t.Errorf("Cut = %v for %q", b.Cut(), tt.want)
			}
		})
	}
}
