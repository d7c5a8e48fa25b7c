package callconv

// Native is the running architecture's C calling convention.
const Native = AAPCS64
