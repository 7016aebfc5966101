package p11

import (
	"crypto/sha256"
	"fmt"
)

// The output checks on every block C_GenerateRandom returns, and the sizes
// they rest on.
//
// A block is what one C_GenerateRandom call returns (at most MaxChunk bytes).
// It is rejected when
//
//   - short: fewer bytes came back than were asked for. miekg/pkcs11 always
//     returns the length it asked for, from a calloc'd buffer, so a token
//     that writes less leaves a zero tail; SoftHSM does exactly that for
//     requests over 2 GiB. A block whose last zeroTail bytes are all zero is
//     taken as short;
//   - all zero: the whole block is zero (the same test, reported as such);
//   - repeated: the block begins with the same tagInput bytes as the
//     previous block this Token returned, to any caller. This catches a
//     token or library that replays a cached answer. Repetition inside a
//     block (a stuck or periodic generator) is left to the SP 800-90B
//     health tests that hsmrand runs on every byte.
//
// False alarms: for a working generator each check fails with probability
// 2^-(8·zeroTail) = 2^-128 per block, and the repetition check with
// 2^-(8·tagInput) = 2^-256 plus the chance that two different prefixes share
// a truncated tag, 2^-(8·tagSize) = 2^-128.
//
// To make these odds hold for small requests, every call asks for at least
// minDraw bytes; the bytes beyond the request are wiped.
//
// The previous block is remembered as a truncated SHA-256 tag of its first
// tagInput bytes, not as the bytes, so that no output lingers in the Token.
const (
	zeroTail = 16                          // bytes: 2^-128 false alarm
	tagInput = 32                          // bytes hashed into the tag
	tagSize  = 16                          // bytes of tag kept: 2^-128 collision
	minDraw  = max(zeroTail, tagInput)     // smallest C_GenerateRandom request
	MaxChunk = 64 << 10                    // largest C_GenerateRandom request (64 KiB)
	_        = uint(MaxChunk - minDraw)    // MaxChunk >= minDraw
	_        = uint(sha256.Size - tagSize) // tagSize <= sha256.Size
)

// blockTag identifies a block for the repetition check.
type blockTag [tagSize]byte

// checkBlock applies the short and all-zero checks to b, which should hold
// want bytes, and returns b's tag for the repetition check.
func checkBlock(b []byte, want int) (blockTag, error) {
	var tag blockTag
	if len(b) != want {
		return tag, fmt.Errorf("%w: short block: %d of %d bytes", ErrBadBlock, len(b), want)
	}
	last := len(b) - 1
	for last >= 0 && b[last] == 0 {
		last--
	}
	switch {
	case last < 0:
		return tag, fmt.Errorf("%w: all-zero block of %d bytes", ErrBadBlock, want)
	case len(b)-1-last >= zeroTail:
		return tag, fmt.Errorf("%w: short block: the last %d of %d bytes are zero (the token filled only part of the buffer)",
			ErrBadBlock, len(b)-1-last, want)
	}
	sum := sha256.Sum256(b[:tagInput])
	copy(tag[:], sum[:])
	clear(sum[:])
	return tag, nil
}
