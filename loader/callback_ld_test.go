package loader

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// Go types of plugins/cb_ld.c's structs.
type (
	ldPair   struct{ A, B abi.LongDoubleValue }
	ldTriple struct{ A, B, C abi.LongDoubleValue }
)

// ldValue returns the long double x (ldBytes) as an abi.LongDoubleValue.
func ldValue(x float64) abi.LongDoubleValue {
	b := ldBytes(x)
	return abi.LongDoubleValue{Lo: binary.LittleEndian.Uint64(b), Hi: binary.LittleEndian.Uint64(b[8:])}
}

// ldFloat64 returns the long double v as a float64, exactly when it is
// zero or a normal double (as every value of plugins/cb_ld.c is): the
// inverse of ldValue, in x87's extended format on amd64 and IEEE
// binary128 on arm64.
func ldFloat64(v abi.LongDoubleValue) float64 {
	var sign, exp, frac uint64
	if callconv.Native == callconv.AAPCS64 {
		sign, exp = v.Hi>>63, (v.Hi>>48)&0x7FFF
		frac = (v.Hi&(1<<48-1))<<4 | v.Lo>>60
	} else {
		sign, exp = (v.Hi>>15)&1, v.Hi&0x7FFF
		frac = v.Lo << 1 >> 12 // the significand without its integer bit
	}
	if exp == 0 {
		return math.Float64frombits(sign << 63)
	}
	return math.Float64frombits(sign<<63 | (exp-16383+1023)<<52 | frac)
}

// TestCallbackLongDouble: Go callbacks taking and returning long doubles
// as abi.LongDoubleValue (on arm64 IEEE binary128 in whole q registers:
// alone, in an HFA of two or three, past the eight v registers on the
// stack, and in a variable part; on amd64 in memory), each called by C
// code the way it calls the C callee of the same signature: both must
// give the same result, which weighs every argument differently. A long
// double result on amd64 would come back in x87's st0, which a Go
// function cannot set: refused.
func TestCallbackLongDouble(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	for _, x := range []float64{1.5, -0.75, 0, 3e100, -12345.25} {
		if got := ldFloat64(ldValue(x)); got != x {
			t.Fatalf("ldFloat64(ldValue(%v)) = %v", x, got)
		}
	}
	p := load(t, newLoader(t, Options{}), "cb_ld")
	f := ldFloat64
	for _, seed := range []int64{1, 7, -12345} {
		cases := []struct {
			name string
			fn   any
		}{
			{"args", func(k int32, a abi.LongDoubleValue, d float64, s ldPair, c abi.LongDoubleValue) float64 {
				return float64(k) + f(a)*2 + d*3 + f(s.A)*4 + f(s.B)*5 + f(c)*6
			}},
			{"many", func(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 abi.LongDoubleValue, d float64) float64 {
				return f(a1) + 2*f(a2) + 3*f(a3) + 4*f(a4) + 5*f(a5) + 6*f(a6) + 7*f(a7) + 8*f(a8) + 9*f(a9) + 10*f(a10) + 11*d
			}},
			{"hfa3", func(in ldPair, k float32) ldTriple {
				return ldTriple{ldValue(f(in.A) * float64(k)), ldValue(f(in.B) + 1), ldValue(f(in.A) - f(in.B))}
			}},
			{"va", func(n int32, va *VarArgs) float64 {
				s := 0.0
				for i := int32(1); i <= n; i++ {
					var v abi.LongDoubleValue
					if err := va.Struct(&v); err != nil {
						panic(err)
					}
					s += float64(i) * f(v)
				}
				return s
			}},
			{"scale", func(x abi.LongDoubleValue, k int32) abi.LongDoubleValue { return ldValue(f(x) * float64(k)) }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.name == "scale" && callconv.Native == callconv.SysV {
					if _, err := NewCallback(tc.fn); !errors.Is(err, ErrSignature) {
						t.Fatalf("a long double result (st0) from a Go callback: %v, want ErrSignature", err)
					}
					return
				}
				c, g := callStruct[float64](t, p, "call_ld_"+tc.name, "ld_"+tc.name, tc.fn, seed)
				if c != g || c == 0 {
					t.Errorf("seed %d: C callee %v, Go callback %v", seed, c, g)
				}
			})
		}
	}
}
