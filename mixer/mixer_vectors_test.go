package mixer

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMixerCAVPVectors runs NIST's CTR_DRBG AES-256 no-df vectors (the
// records whose personalization string and additional inputs are 384 bits,
// the lengths the Mixer uses) through a Mixer, with the primary replaying
// the records' entropy inputs and the OS their personalization string and
// additional inputs. Matching ReturnedBits proves that the Mixer's steps
// are exactly the SP 800-90A flows named in the package doc:
//
//	no_reseed: New (Instantiate); Read; Read
//	pr_false:  New; a policy reseed; Read; Read
//	pr_true:   New; ReadPR; ReadPR
//
// no_reseed and pr_false run twice, once with the requests generated
// straight into p and once through the shard buffer; pr_true three times:
// through ReadPR, through Read with Config.PredictionResistance, and
// through ReadPRWith with the EntropyInputPR values given per call as
// Seeding.Entropy (the primary then gives only the instantiation's entropy
// input). The vectors are parsed by parseCTRVectors (ctr_vectors_test.go).
func TestMixerCAVPVectors(t *testing.T) {
	total := 0
	for _, name := range []string{
		"no_reseed_CTR_DRBG_AES-256_no_df.rsp",
		"pr_false_CTR_DRBG_AES-256_no_df.rsp",
		"pr_true_CTR_DRBG_AES-256_no_df.rsp",
	} {
		t.Run(name, func(t *testing.T) {
			path := ctrVectorFile(t, name)
			f, err := os.Open(path)
			require.NoError(t, err)
			defer f.Close()
			recs, err := parseCTRVectors(name, f)
			require.NoError(t, err)
			passed, runs := 0, 0
			for _, rec := range recs {
				if rec.df || rec.lens["PersonalizationStringLen"] != 8*SeedLen || rec.lens["AdditionalInputLen"] != 8*SeedLen {
					continue
				}
				modes := []mxMode{mxDirect, mxBuffered}
				if rec.pr {
					modes = []mxMode{mxReadPR, mxConfigPR, mxPerCall}
				}
				for _, mode := range modes {
					runs++
					if !assert.Equal(t, rec.returned, mxRunRecord(t, rec, mode), "%s (%v)", rec.where, mode) {
						continue
					}
					passed++
				}
			}
			// 60 records (four sections of 15), each run two or three times.
			want := 120
			if strings.HasPrefix(name, "pr_true") {
				want = 180
			}
			assert.Equal(t, want, runs, "runs")
			assert.Equal(t, want, passed, "runs passed")
			total += passed
		})
	}
	t.Logf("%d vector runs passed", total)
}

// mxMode is how mxRunRecord makes a record's requests.
type mxMode int

const (
	mxDirect   mxMode = iota // Read, generated straight into p
	mxBuffered               // Read, through the shard buffer
	mxReadPR                 // ReadPR
	mxConfigPR               // Read with Config.PredictionResistance
	mxPerCall                // ReadPRWith, entropy input given per call
)

func (m mxMode) String() string {
	return [...]string{"direct", "buffered", "ReadPR", "Config.PredictionResistance", "ReadPRWith"}[m]
}

// mxRunRecord replays one CAVP record through a single-shard Mixer and
// returns the output of its second request.
func mxRunRecord(t *testing.T, rec *ctrRecord, mode mxMode) []byte {
	t.Helper()
	n := len(rec.returned)
	primary, osSrc := newMXSource("P", nil), newMXSource("O", nil)
	primary.replay = append(bytes.Clone(rec.entropy), rec.reseedEntropy...)
	perCall := newMXSource("E", nil) // the entropy input given to ReadPRWith
	for _, e := range rec.entropyPR {
		if mode == mxPerCall {
			perCall.replay = append(perCall.replay, e...)
		} else {
			primary.replay = append(primary.replay, e...)
		}
	}
	osSrc.replay = append(bytes.Clone(rec.pers), rec.reseedAdd...)
	for _, a := range rec.additional {
		osSrc.replay = append(osSrc.replay, a...)
	}
	m := newTestMixer(t, Config{Primary: primary, OS: osSrc, Shards: 1, BufferSize: n, PredictionResistance: mode == mxConfigPR})
	s := &m.shards[0]
	if rec.hasReseed {
		s.mu.Lock()
		_, err := m.reseed(s, &m.cfg.seeding)
		s.mu.Unlock()
		require.NoError(t, err)
	}
	out := make([]byte, n)
	for range 2 {
		switch mode {
		case mxConfigPR:
			// Config.PredictionResistance: Read is ReadPR.
			_, err := m.Read(out)
			require.NoError(t, err)
		case mxReadPR:
			_, err := m.ReadPR(out)
			require.NoError(t, err)
		case mxPerCall:
			osOnly, err := m.ReadPRWith(out, Seeding{Entropy: perCall})
			require.NoError(t, err, "ReadPRWith")
			require.Zero(t, osOnly, "ReadPRWith: OS-only reseeds")
		case mxBuffered:
			// Two half reads: the first refills the buffer.
			_, err := m.Read(out[:n/2])
			require.NoError(t, err)
			_, err = m.Read(out[n/2:])
			require.NoError(t, err)
		default:
			_, err := m.Read(out)
			require.NoError(t, err)
		}
	}
	for _, src := range []struct {
		name string
		s    *mxSource
	}{{"primary", primary}, {"Seeding.Entropy", perCall}, {"OS", osSrc}} {
		_, consumed := src.s.stats()
		assert.Equal(t, uint64(len(src.s.replay)), consumed, "%s: bytes the %s gave of its replay", rec.where, src.name)
	}
	return out
}
