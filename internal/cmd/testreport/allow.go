package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// allowEntry is one line of the allow-list: a package and a test pattern.
type allowEntry struct {
	pkg  string
	test *regexp.Regexp
}

// maxAllowList bounds the allow-list file: it is meant to be short.
const maxAllowList = 64 << 10

// readAllowList reads lines "PACKAGE TEST-REGEXP". Lines starting with #
// are comments, and every entry must follow one, saying why its skip is
// expected.
func readAllowList(name string) ([]allowEntry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []allowEntry
	commented := false
	sc := bufio.NewScanner(f)
	read := 0
	for n := 1; sc.Scan(); n++ {
		if read += len(sc.Bytes()) + 1; read > maxAllowList {
			return nil, fmt.Errorf("%s: longer than %d bytes", name, maxAllowList)
		}
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			commented = false
			continue
		case strings.HasPrefix(line, "#"):
			commented = true
			continue
		case !commented:
			return nil, fmt.Errorf("%s:%d: an entry without a comment above it saying why the skip is expected", name, n)
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"PACKAGE TEST-REGEXP\"", name, n)
		}
		re, err := regexp.Compile("^(?:" + fields[1] + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, allowEntry{pkg: fields[0], test: re})
	}
	return out, sc.Err()
}

// allowed reports whether an entry names the skipped test k. An entry's
// package is an import path or its end ("cmd/entropyd").
func allowed(allow []allowEntry, k testKey) bool {
	for _, a := range allow {
		if (k.pkg == a.pkg || strings.HasSuffix(k.pkg, "/"+a.pkg)) && a.test.MatchString(k.test) {
			return true
		}
	}
	return false
}
