// Package greeting builds greetings in a few languages. It is reusable outside the service.
package greeting

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest name, in runes, that Greet accepts.
const MaxNameLen = 64

// ErrNameTooLong is returned for names longer than MaxNameLen runes.
var ErrNameTooLong = errors.New("greeting: name too long")

var salutations = map[string]string{
	"en": "Hello",
	"fr": "Bonjour",
	"de": "Hallo",
	"es": "Hola",
}

// Normalize maps a language tag to one Greet knows, defaulting to "en".
func Normalize(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	if _, ok := salutations[lang]; ok {
		return lang
	}
	return "en"
}

// Greet greets name in lang; an empty name greets the world.
func Greet(name, lang string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", ErrNameTooLong
	}
	if name == "" {
		name = "world"
	}
	return salutations[Normalize(lang)] + ", " + name + "!", nil
}

// Shout is Greet in capitals. Nothing tests it yet.
func Shout(name, lang string) (string, error) {
	g, err := Greet(name, lang)
	if err != nil {
		return "", err
	}
	return strings.ToUpper(g), nil
}
