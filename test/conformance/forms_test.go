package conformance

// Areas 5 and 6: the same questions as areas 2 and 3, asked in the forms of
// input the real libraries read that the plain generators never write.
//
//  5. toml11: registries.conf in TOML 1.1 as BurntSushi/toml v1.6 reads it
//     (multi-line inline tables with trailing commas and comments, \e and
//     \xHH escapes, literal strings, times and date-times without seconds,
//     and the forms it refuses), in drop-in layouts as configfile.Read opens
//     them (dangling symlinks, symlinks to files and directories, loops, a
//     directory as the main file).
//  6. secretjson: pull secrets written as Go's encoding/json decodes them
//     into kubelet's types (field names in any case and Unicode folding, a
//     field given twice, \u escapes, line breaks inside "auth", null, a
//     byte-order mark, trailing data), with keyring keys that Go 1.26's
//     url.Parse refuses (several colons, brackets around a name).

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ---- area 5: TOML 1.1 forms and file layouts ----

// tomlStr11 writes s as a TOML 1.1 string: basic with random \xHH, \u and
// \e-free escapes, or literal when it can be.
func tomlStr11(r *rand.Rand, s string) string {
	if r.IntN(4) == 0 && !strings.ContainsAny(s, "'\n\r") && utf8.ValidString(s) {
		ok := true
		for _, c := range s {
			if c < 0x20 || c == 0x7f {
				ok = false
			}
		}
		if ok {
			return "'" + s + "'"
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		case c < 0x80 && r.IntN(8) == 0:
			fmt.Fprintf(&b, "\\x%02X", c)
		case r.IntN(12) == 0:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toml11Values: values of unknown keys (ignored by both) in TOML 1.1 forms.
var toml11Values = []string{`07:32`, `1979-05-27T07:32Z`, `1979-05-27 07:32`, `1979-05-27T07:32`, `1979-05-27T07:32-07:00`,
	`"\e[1m"`, `"\xff\x00"`, `'\e'`, `{ a = 1, }`, "{\n a = 1, # c\n b = [1,\n 2,],\n}", `07:32:00`, `1979-05-27`}

// toml11Invalid: forms BurntSushi/toml v1.6 refuses.
var toml11Invalid = []string{`x = { , a = 1 }`, `x = { a = 1,, }`, "x = { a = 1\n b = 2 }", `a+b = 1`, `x = 0x1.8p1`,
	`x = "\x4"`, `x = "\xZZ"`, `x = 07:32.5`, `x = 7:32`, `x = 1979-05-27T7:32`, "x = { a =\n 1 }", `x = "\U0011FFFF"`,
	`x = 1979-05-27T07:32:60Z`, `x = 24:00`}

// render11 writes c like render, in TOML 1.1's forms.
func (c confSpec) render11(r *rand.Rand, valid bool) string {
	var b strings.Builder
	if c.Top != "" {
		b.WriteString(c.Top + "\n")
	}
	comment := func() string {
		if r.IntN(4) == 0 {
			return " # note"
		}
		return ""
	}
	regT, mirT := keyCase("registry", c.KeyCase), keyCase("mirror", c.KeyCase)
	for _, reg := range c.Regs {
		b.WriteString("\n[[" + regT + "]]" + comment() + "\n")
		if reg.Prefix != nil {
			fmt.Fprintf(&b, "%s = %s\n", keyCase("prefix", reg.KeyCase), tomlStr11(r, *reg.Prefix))
		}
		if reg.Location != nil {
			fmt.Fprintf(&b, "%s = %s%s\n", keyCase("location", reg.KeyCase), tomlStr11(r, *reg.Location), comment())
		}
		for _, kv := range []struct {
			k string
			v *bool
		}{{"insecure", reg.Insecure}, {"blocked", reg.Blocked}, {"mirror-by-digest-only", reg.MirrorByDigestOnly}} {
			if kv.v != nil {
				fmt.Fprintf(&b, "%s = %t\n", keyCase(kv.k, reg.KeyCase), *kv.v)
			}
		}
		if reg.PullFromMirror != nil {
			fmt.Fprintf(&b, "pull-from-mirror = %s\n", tomlStr11(r, *reg.PullFromMirror))
		}
		if reg.Extra != "" {
			b.WriteString(reg.Extra + "\n")
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "note-%d = %s\n", r.IntN(100), pick(r, toml11Values...))
		}
		if len(reg.Mirrors) == 0 {
			continue
		}
		if r.IntN(3) == 0 { // array-of-tables form
			for _, m := range reg.Mirrors {
				b.WriteString("[[" + regT + "." + mirT + "]]\n")
				for _, kv := range m.pairs(r) {
					b.WriteString(kv + "\n")
				}
			}
			continue
		}
		// An inline array of inline tables over several lines (TOML 1.1).
		b.WriteString(mirT + " = [" + comment() + "\n")
		for i, m := range reg.Mirrors {
			pairs := m.pairs(r)
			sep, open, close := ", ", "{ ", " }"
			if r.IntN(2) == 0 {
				sep, open, close = ",\n    ", "{\n    ", "\n  }"
			}
			if r.IntN(2) == 0 && len(pairs) > 0 {
				pairs[len(pairs)-1] += "," // a trailing comma
			}
			b.WriteString("  " + open + strings.Join(pairs, sep) + close)
			if i < len(reg.Mirrors)-1 || r.IntN(2) == 0 {
				b.WriteString(",")
			}
			b.WriteString(comment() + "\n")
		}
		b.WriteString("]\n")
	}
	if c.Tail != "" {
		b.WriteString("\n" + c.Tail + "\n")
	}
	if !valid && r.IntN(8) == 0 {
		bad := pick(r, toml11Invalid...)
		if r.IntN(2) == 0 {
			return bad + "\n" + b.String()
		}
		return b.String() + "\n[[" + regT + "]]\nlocation = \"bad.io\"\n" + bad + "\n"
	}
	return b.String()
}

// pairs: a mirror's keys as "key = value" for an inline or standard table.
func (m mirrorSpec) pairs(r *rand.Rand) []string {
	var out []string
	if m.Location != nil {
		out = append(out, keyCase("location", m.KeyCase)+" = "+tomlStr11(r, *m.Location))
	}
	if m.Insecure != nil {
		out = append(out, fmt.Sprintf("%s = %t", keyCase("insecure", m.KeyCase), *m.Insecure))
	}
	if m.PullFromMirror != nil {
		out = append(out, keyCase("pull-from-mirror", m.KeyCase)+" = "+tomlStr11(r, *m.PullFromMirror))
	}
	if m.Extra != "" {
		out = append(out, m.Extra)
	}
	return out
}

// toml11Case: a generated case rendered in TOML 1.1 forms and laid out on
// disk in the ways configfile.Read must cope with.
func toml11Case(g regGen) rawRegCase {
	r := g.r
	c := g.regCase()
	raw := rawRegCase{Main: c.Main.render11(r, g.valid), MainMissing: c.MainMissing, Image: c.Image}
	if !g.valid && r.IntN(40) == 0 {
		raw.MainDir = true
	} else if !g.valid && r.IntN(40) == 0 {
		raw.MainLink = pick(r, "missing.conf", "registries.conf", "registries.conf.d")
	}
	if c.NoDropInDir {
		return raw
	}
	raw.DropIns = []rawFile{}
	for i, d := range c.DropIns {
		f := rawFile{Name: d.Name, Content: d.render11(r, g.valid), Dir: d.Dir}
		switch r.IntN(12) {
		case 0: // dangling
			f = rawFile{Name: d.Name, Link: fmt.Sprintf("missing-%d.conf", i)}
		case 1: // a file outside the directory
			f.Link = fmt.Sprintf("../outside-%d", i)
			f.Dir = false
		case 2: // a directory outside it
			if !g.valid {
				f = rawFile{Name: d.Name, Link: fmt.Sprintf("../dir-%d", i), Dir: true}
			}
		case 3: // a loop
			if !g.valid {
				f = rawFile{Name: d.Name, Link: d.Name}
			}
		case 4: // another entry of the directory (read twice, or a directory)
			if j := r.IntN(max(i, 1)); i > 0 && !(g.valid && c.DropIns[j].Dir) {
				f = rawFile{Name: d.Name, Link: c.DropIns[j].Name}
			}
		}
		raw.DropIns = append(raw.DropIns, f)
	}
	return raw
}

func TestGeneratedToml11(t *testing.T) {
	runGeneratedRegistries(t, regArea[rawRegCase]{
		name:   "toml11",
		stream: 5,
		gen:    toml11Case,
		raw:    func(c rawRegCase) rawRegCase { return c },
	})
}

// ---- area 6: pull secrets as Go's encoding/json reads them ----

// goFieldSpelling spells a field name as encoding/json still matches it:
// another case, or 's'/'k' as U+017F/U+212A, which fold to them.
func goFieldSpelling(r *rand.Rand, name string) string {
	switch r.IntN(6) {
	case 0:
		return strings.ToUpper(name)
	case 1:
		return strings.ToUpper(name[:1]) + name[1:]
	case 2:
		return strings.NewReplacer("s", "\u017f", "k", "\u212a").Replace(name)
	}
	return name
}

// jsonStr writes s as a JSON string with random \u escapes.
func jsonStr(r *rand.Rand, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20:
			fmt.Fprintf(&b, "\\u%04x", c)
		case c == '/' && r.IntN(4) == 0:
			b.WriteString("\\/")
		case c < 0x10000 && r.IntN(10) == 0:
			fmt.Fprintf(&b, "\\u%04X", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// goJSONEntry writes one entry in the forms encoding/json reads; the decoded
// result is e's credential (or, when !valid, maybe something Go refuses).
func goJSONEntry(r *rand.Rand, e secretEntry, valid bool) string {
	var fields []string
	field := func(name, value string) {
		if r.IntN(8) == 0 { // the same field earlier under another spelling: the last wins
			fields = append(fields, jsonStr(r, goFieldSpelling(r, name))+":"+jsonStr(r, "decoy"))
		}
		fields = append(fields, jsonStr(r, goFieldSpelling(r, name))+":"+value)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(e.Username + ":" + e.Password))
	switch e.Form {
	case 1:
		field("auth", jsonStr(r, strings.TrimRight(auth, "=")))
	case 2:
		field("username", jsonStr(r, e.Username))
		field("password", jsonStr(r, e.Password))
	default:
		if r.IntN(3) == 0 && len(auth) > 4 { // line breaks inside, which Go's decoder skips
			at := 1 + r.IntN(len(auth)-1)
			auth = auth[:at] + pick(r, "\r\n", "\n", "\r") + auth[at:]
		}
		field("auth", jsonStr(r, auth))
	}
	if r.IntN(4) == 0 {
		field("email", jsonStr(r, "e@example.com"))
	}
	if !valid {
		switch r.IntN(12) {
		case 0:
			fields = append([]string{`"username":1`}, fields...) // decoded too: fails the secret
		case 1:
			fields = append(fields, `"password":"p\ud800"`) // a lone surrogate becomes U+FFFD
		case 2:
			return "null"
		}
	}
	return "{" + strings.Join(fields, pick(r, ",", ", ", ",\n  ")) + "}"
}

// goJSONFile renders f by hand in encoding/json's accepted forms.
func goJSONFile(r *rand.Rand, f secretFile, valid bool) secretFile {
	var entries []string
	for _, e := range f.Entries {
		entries = append(entries, jsonStr(r, e.Key)+":"+goJSONEntry(r, e, valid))
	}
	doc := "{" + strings.Join(entries, ",") + "}"
	if !f.Legacy {
		doc = "{" + jsonStr(r, goFieldSpelling(r, "auths")) + ":" + doc
		if r.IntN(6) == 0 {
			doc += `,"HttpHeaders":{"X":"y"}`
		}
		doc += "}"
	}
	if !valid {
		switch r.IntN(16) {
		case 0:
			doc = "\ufeff" + doc
		case 1:
			doc += " x"
		case 2:
			doc += "\n\t "
		}
	}
	// Entries stay for the report and fileOf; Raw is what is written.
	return secretFile{Legacy: f.Legacy, Entries: f.Entries, Raw: doc}
}

// urlKeys: keys for the image's host that Go 1.26's url.Parse refuses or
// reads differently, so kubelet's keyring ignores or keeps them.
func urlKeys(r *rand.Rand, image string) string {
	host := strings.SplitN(image, "/", 2)[0]
	if !strings.Contains(image, "/") {
		host = "example.com"
	}
	return pick(r, host+":1:2", "["+host+"]", "["+host+"]:5000", host+"]", "["+host, "a:b:"+host,
		"https://"+host+":5000:5000/", host+":", host+":0x50", "[::1]"+host, "https://["+host+"]/v1/", host+"%zz", host)
}

func TestGeneratedSecretJSON(t *testing.T) {
	e := newMatchEnv(t)
	n := *flagN
	start, sp0 := time.Now(), spawns.Load()
	coll := newCollector[matchCase]()
	parallel(n, func(i int) {
		g := keyGen{rand.New(rand.NewPCG(uint64(*flagSeed), uint64(i)+6<<40))}
		r := g.r
		valid := i%2 == 0
		img := g.image()
		targets := []string{strings.SplitN(img, ":", 2)[0]}
		files := g.files(3, 5, targets)
		for fi := range files {
			for ei := range files[fi].Entries {
				if r.IntN(4) == 0 {
					files[fi].Entries[ei].Key = urlKeys(r, img)
				}
			}
			if r.IntN(4) > 0 {
				files[fi] = goJSONFile(r, files[fi], valid)
			}
		}
		c := matchCase{Files: files, Image: img}
		if d := e.check(c); d != nil {
			coll.add(c, d)
		}
	})
	logTiming(t, "secretjson", n, start, sp0)
	coll.report(t, "secretjson", e.check, shrinkMatchCase, func(c matchCase) string { return c.goString() })
}
