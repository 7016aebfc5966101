package mixer

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzMixer drives a Mixer with a fuzzed configuration and a fuzzed
// sequence of reads, prediction-resistant reads (ReadPR, and ReadPRWith
// with the zero Seeding) and primary failures, and checks the read
// contract (all of p, or 0 bytes, p zeroed and an error only when the hook
// chose Fail, or always for the zero Seeding), the counters, and that no primary bytes
// and no repeated 16-byte block appear in the output.
func FuzzMixer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5, 9, 2, 3, 1, 0, 4})
	f.Add([]byte{1, 3, 1, 3, 0, 3, 4, 3, 8, 2, 2, 255})
	f.Add([]byte{2, 200, 2, 3, 0, 3, 1, 3, 2, 17, 33, 3, 1})
	f.Add([]byte{3, 64, 0, 7, 11, 13, 3, 1, 3, 5, 3, 2})
	f.Add([]byte{0, 8, 2, 4, 3, 4, 2, 9, 4, 3, 4})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 3 || len(ops) > 64 {
			t.Skip()
		}
		primary := newMXSource("P", nil)
		decision := Decision(ops[2] % 3)
		var hookCalls uint64
		m := newTestMixer(t, Config{
			Primary:     primary,
			Shards:      1 + int(ops[0]%2),
			BufferSize:  BlockLen + int(ops[1])*4,
			ReseedCalls: 1 + uint64(ops[0]/2%4),
			OnPrimaryError: func(error) Decision {
				hookCalls++ // reads run one at a time here
				return decision
			},
		})
		var out []byte
		var reads, served, strictFailures uint64
		for i, op := range ops[3:] {
			var p []byte
			var err error
			strict := false
			switch op % 5 {
			case 0, 1:
				p = bytes.Repeat([]byte{0xee}, 1+int(op)*int(op)%(3*MaxRequest))
				_, err = m.Read(p)
			case 2:
				p = bytes.Repeat([]byte{0xee}, 1+int(op)*7)
				_, err = m.ReadPR(p)
			case 3:
				// The next primary read fails (once), or not.
				primary.setFailures(int(op>>2) % 2)
				continue
			case 4:
				// The zero Seeding: Fail whatever the hook says.
				strict = true
				p = bytes.Repeat([]byte{0xee}, 1+int(op)*int(op)%(2*MaxRequest))
				var osOnly int
				osOnly, err = m.ReadPRWith(p, Seeding{})
				require.Zero(t, osOnly, "op %d: ReadPRWith with the zero Seeding reported OS-only reseeds", i)
			}
			if err != nil {
				require.True(t, decision == Fail || strict, "op %d: unexpected error %v (decision %v, strict %v): want an error only for Fail or the zero Seeding", i, err, decision, strict)
				require.ErrorIs(t, err, ErrPrimary, "op %d", i)
				require.ErrorIs(t, err, errMxPrimaryDown, "op %d", i)
				if strict {
					strictFailures++
				}
				require.Equal(t, make([]byte, len(p)), p, "op %d: failed read left bytes in p", i)
				continue
			}
			reads++
			served += uint64(len(p))
			out = append(out, p...)
		}
		st := m.Stats()
		require.Equal(t, reads, st.Reads, "Stats %+v", st)
		require.Equal(t, served, st.BytesServed, "Stats %+v", st)
		require.Equal(t, hookCalls+strictFailures, st.PrimaryErrors, "Stats %+v", st)
		_, consumed := primary.stats()
		primaryBytes := mxStream("P", 0, consumed)
		blocks := make(map[string]bool)
		for i := 0; i+BlockLen <= len(primaryBytes); i += BlockLen {
			blocks[string(primaryBytes[i:i+BlockLen])] = true
		}
		for i := 0; i+BlockLen <= len(out); i += BlockLen {
			b := string(out[i : i+BlockLen])
			if blocks[b] { // one map lookup per block; testify only on a repeat
				require.False(t, blocks[b], "output block at %d repeats primary or earlier output bytes", i)
			}
			blocks[b] = true
		}
	})
}
