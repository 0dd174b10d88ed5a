package account

import (
	"bytes"
	"testing"
)

const passwd = `root:x:0:0:root:/root:/bin/bash
# comment:x:1:1::/:/bin/sh
  spaced:x:5:6::/:/bin/sh
bad:x:abc:1::/:/bin/sh
bad:x:7:8::/:/bin/sh
0:x:1000:1001::/:/bin/sh
neg:x:-1:+2::/:
big:x:99999999999999999999999:4294967296::/:
short:x:9
nogid:x:9:
trail:x:3:4x:/:/bin/sh
trail:x:3 :4:/:/bin/sh
dup:x:10:10::/:
dup:x:11:11::/:
last:x:12:13`

func TestFindUser(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    User
		ok   bool
	}{
		{"root", User{"root", 0, 0}, true},
		{"spaced", User{"spaced", 5, 6}, true},
		{"bad", User{"bad", 7, 8}, true}, // the malformed line is skipped
		{"0", User{"0", 1000, 1001}, true},
		{"1000", User{}, false}, // numbers are names
		{"neg", User{"neg", 4294967295, 2}, true},
		{"big", User{"big", 4294967295, 0}, true},
		{"short", User{"short", 9, 0}, false},
		{"nogid", User{}, false},
		{"trail", User{}, false},
		{"dup", User{"dup", 10, 10}, true},
		{"last", User{"last", 12, 13}, true},
		{"# comment", User{}, false},
		{"", User{}, false},
		{"ROOT", User{}, false},
	} {
		u, ok := FindUser([]byte(passwd), tc.name)
		if ok != tc.ok || (ok && u != tc.u) {
			t.Errorf("FindUser(%q) = %+v %v, want %+v %v", tc.name, u, ok, tc.u, tc.ok)
		}
	}
}

func TestLookupUserSystem(t *testing.T) {
	u, ok := LookupUser("root")
	if !ok || u.UID != 0 {
		t.Errorf("root: %+v %v", u, ok)
	}
	if _, ok := LookupUser("no-such-user-svkit"); ok {
		t.Error("found a user that does not exist")
	}
}

func FuzzFindUser(f *testing.F) {
	f.Add([]byte(passwd), "root")
	f.Add([]byte("a:x:1:2\n"), "a")
	f.Add([]byte(" \t#x:y:1:2\n:x:3:4"), "")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		u, ok := FindUser(data, name)
		if !ok {
			return
		}
		if u.Name != name {
			t.Fatalf("asked %q, got %q", name, u.Name)
		}
		if bytes.IndexByte([]byte(name), ':') >= 0 || bytes.IndexByte([]byte(name), '\n') >= 0 {
			t.Fatalf("a name with ':' or newline matched: %q", name)
		}
	})
}
