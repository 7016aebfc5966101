// Package kernelfeed adds bytes to the Linux kernel's random pool with the
// RNDADDENTROPY ioctl, credits entropy for them only while that is
// meaningful, and can ask the kernel to reseed its CRNG at once.
//
// It is a small wrapper over two ioctls on /dev/random. On systems other
// than Linux, [Open] returns [ErrUnsupported].
//
// # Layout
//
// The ioctl takes a struct rand_pool_info:
//
//	struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; };
//
// that is two 32-bit C ints followed by the bytes inline. Declaring the two
// counts as Go int (8 bytes on 64-bit systems), as some existing daemons do,
// makes the kernel read buf_size as 0 from the high half of the first field:
// it then credits entropy while mixing in nothing. This package encodes the
// header explicitly as two int32 values in native byte order, and a test pins
// the layout.
//
// # Crediting
//
// Since Linux 5.18 entropy credit only matters before the kernel RNG is first
// seeded: [KernelReady] tells whether getrandom(2) with GRND_NONBLOCK still
// returns EAGAIN. While the kernel is not ready, [Feeder.Feed] credits
// Config.BitsPerByte bits per byte fed, never more than 8 per byte; the
// kernel does not check the credit against the length, so the cap is ours.
// The credit must not exceed the min-entropy of the input behind the bytes
// fed: bytes that come out of a DRBG carry no more entropy than the seed
// material drawn for them, however many there are. [Feeder.FeedCredited]
// takes that bound from the caller and credits min(BitsPerByte × len(p),
// maxBits); entropyd passes, for each feed, BitsPerByte × the bytes of
// credited source input (HSM bytes, raw device bytes) drawn for that feed
// alone, so no input byte is ever credited twice.
// Once the kernel is ready, bytes are still mixed into the pool but credited
// with 0 bits, and [Result.Credited] says so. Mixed bytes take effect at the
// kernel's next reseed of its CRNG (about every 60 s), or at once when
// Config.Reseed asks for RNDRESEEDCRNG after each feed.
//
// Never wait on /proc/sys/kernel/random/entropy_avail or on /dev/random
// becoming writable: on current kernels the first reads 256 forever and the
// second never happens.
//
// # Privileges
//
// RNDADDENTROPY and RNDRESEEDCRNG need CAP_SYS_ADMIN in the initial user
// namespace. Root inside a container usually lacks it: /dev/random opens, but
// the ioctl fails with EPERM. [Open] probes the ioctl with an empty buffer and
// returns an error wrapping [ErrNotPermitted] that names the capability,
// rather than failing at the first feed.
//
// # Secrets
//
// The bytes fed are secret. The Feeder copies them into its own buffer for
// the ioctl and zeroes that buffer after every call; the caller's buffer is
// the caller's to wipe.
package kernelfeed
