package localtime

import (
	"encoding/binary"
	"os"
)

// lastTransition returns the time of the last transition listed in a TZif
// file (its 64-bit data when there is some), which Go's time.Location does
// not expose.
func lastTransition(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parseLastTransition(b)
}

// parseLastTransition reads the header(s) of TZif data.
func parseLastTransition(b []byte) (int64, bool) {
	const hdr = 44
	if len(b) < hdr || string(b[:4]) != "TZif" {
		return 0, false
	}
	count := func(h []byte, i int) int { return int(binary.BigEndian.Uint32(h[20+4*i:])) }
	isutc, isstd, leap, timecnt, typecnt, charcnt := count(b, 0), count(b, 1), count(b, 2), count(b, 3), count(b, 4), count(b, 5)
	if b[4] == 0 {
		if timecnt == 0 || len(b) < hdr+4*timecnt {
			return 0, false
		}
		return int64(int32(binary.BigEndian.Uint32(b[hdr+4*(timecnt-1):]))), true
	}
	skip := hdr + timecnt*5 + typecnt*6 + charcnt + leap*8 + isstd + isutc
	if skip < 0 || len(b) < skip+hdr {
		return 0, false
	}
	h2 := b[skip:]
	if string(h2[:4]) != "TZif" {
		return 0, false
	}
	timecnt = count(h2, 3)
	if timecnt == 0 || len(h2) < hdr+8*timecnt {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(h2[hdr+8*(timecnt-1):])), true
}
