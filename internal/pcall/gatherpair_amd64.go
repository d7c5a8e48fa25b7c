package pcall

// gatherPairs: rp_gather_thunk (callframe_amd64.S) runs fused moves.
const gatherPairs = true
