package kernelfeed

import "encoding/binary"

// poolInfoHeader mirrors the fixed part of the kernel's struct rand_pool_info
// (include/uapi/linux/random.h): two C ints, 32 bits each on every Linux
// ABI. The bytes follow inline. It exists so a test can pin the layout; the
// ioctl buffer itself is encoded by encodePoolInfo.
type poolInfoHeader struct {
	EntropyCount int32
	BufSize      int32
}

const poolInfoHeaderLen = 8

// encodePoolInfo writes a rand_pool_info carrying data and a credit of bits
// into buf and returns the encoded prefix of buf. buf must hold
// poolInfoHeaderLen+len(data) bytes.
func encodePoolInfo(buf []byte, bits int32, data []byte) []byte {
	binary.NativeEndian.PutUint32(buf[0:4], uint32(bits))
	binary.NativeEndian.PutUint32(buf[4:8], uint32(len(data)))
	n := copy(buf[poolInfoHeaderLen:], data)
	return buf[:poolInfoHeaderLen+n]
}
