package greeting

import "testing"

func TestGreet(t *testing.T) {
	cases := []struct{ name, lang, want string }{
		{"Ada", "en", "Hello, Ada!"},
		{"", "fr-FR", "Bonjour, world!"},
		{"Grace", "xx", "Hello, Grace!"},
	}
	for _, c := range cases {
		got, err := Greet(c.name, c.lang)
		if err != nil || got != c.want {
			t.Errorf("Greet(%q, %q) = %q, %v; want %q", c.name, c.lang, got, err, c.want)
		}
	}
}
