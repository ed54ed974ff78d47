package httpx

import (
	"math/big"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// referenceClass is integerClass computed with exact rational arithmetic,
// which is correct for any literal but slow for long ones.
func referenceClass(t reflect.Type, n string) numberClass {
	r, ok := new(big.Rat).SetString(n)
	if !ok {
		panic("not a number: " + n)
	}
	lo, hi := integerBounds(t)
	low, _ := new(big.Rat).SetString(lo)
	high, _ := new(big.Rat).SetString(hi)
	switch {
	case r.Cmp(high) > 0:
		return aboveRange
	case r.Cmp(low) < 0:
		return belowRange
	case n == "-0" && isUnsigned(t):
		return negativeZero
	case !r.IsInt():
		return notWhole
	}
	return wholeInRange
}

var integerTypes = []reflect.Type{
	reflect.TypeFor[int8](), reflect.TypeFor[int16](), reflect.TypeFor[int32](), reflect.TypeFor[int64](),
	reflect.TypeFor[uint8](), reflect.TypeFor[uint16](), reflect.TypeFor[uint32](), reflect.TypeFor[uint64](),
}

func TestIntegerClass_matchesReference(t *testing.T) {
	var literals []string
	for _, typ := range integerTypes {
		lo, hi := integerBounds(typ)
		for _, b := range []string{lo, hi} {
			literals = append(literals, b, b+".5", b+".0", b+"0", b+"e0", b+"e1", b+"e-1", b+"."+strings.Repeat("0", 30)+"1")
		}
	}
	literals = append(literals, "0", "-0", "0.0", "-0.0", "0e5", "0.5", "-0.5", "0.05", "1e2", "1E+2",
		"1e-2", "100e-2", "12.5e1", "-12.5e1", "1e19", "1.8446744073709551615e19", "1.8446744073709551616e19",
		"-9.223372036854775808e18", "-9.223372036854775809e18", "9223372036854775807", "9223372036854775808")
	for _, typ := range integerTypes {
		for _, n := range literals {
			if got, want := integerClass(typ, n), referenceClass(typ, n); got != want {
				t.Errorf("integerClass(%s, %s) = %d, want %d", typ, n, got, want)
			}
		}
	}
}

func TestIntegerClass_longLiteralAllocation(t *testing.T) {
	n := "1" + strings.Repeat("7", 1_000_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := integerClass(reflect.TypeFor[int64](), n)
	runtime.ReadMemStats(&after)
	if got != aboveRange {
		t.Errorf("class = %d, want aboveRange", got)
	}
	// A linear pass copies the literal a few times, where big.ParseFloat
	// allocates about 2 GB for it.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("classifying a 1 MB literal allocated %d bytes, want at most 16 MiB", alloc)
	}
}

func FuzzIntegerClass(f *testing.F) {
	f.Add(false, "127", "5", int16(0), uint8(0))
	f.Add(true, "0", "", int16(0), uint8(4))
	f.Add(false, "18446744073709551615", "", int16(3), uint8(7))
	f.Fuzz(func(t *testing.T, neg bool, intPart, fracPart string, exp int16, kind uint8) {
		if !digitsOnly(intPart) || !digitsOnly(fracPart) || intPart == "" || len(intPart)+len(fracPart) > 200 {
			return
		}
		if len(intPart) > 1 && intPart[0] == '0' {
			return // JSON allows no leading zero
		}
		exp %= 400 // big.Rat takes time that grows with the exponent
		n := intPart
		if neg {
			n = "-" + n
		}
		if fracPart != "" {
			n += "." + fracPart
		}
		if exp != 0 {
			n += "e" + strconv.Itoa(int(exp))
		}
		typ := integerTypes[int(kind)%len(integerTypes)]
		if got, want := integerClass(typ, n), referenceClass(typ, n); got != want {
			t.Errorf("integerClass(%s, %s) = %d, want %d", typ, n, got, want)
		}
	})
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
