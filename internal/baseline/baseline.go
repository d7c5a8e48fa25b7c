package baseline

// S24 is a 24-byte struct of three int64, laid out as C's struct rp_s24:
// the argument and result of the general call's cgo baseline
// (CallUnprotectedS24).
type S24 struct{ A, B, C int64 }
