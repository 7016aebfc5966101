package mixer

import (
	"bytes"
	"os"
	"strings"
	"testing"
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
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			recs, err := parseCTRVectors(name, f)
			if err != nil {
				t.Fatal(err)
			}
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
					if got := mxRunRecord(t, rec, mode); !bytes.Equal(got, rec.returned) {
						t.Errorf("%s (%v): got %x, want %x", rec.where, mode, got, rec.returned)
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
			if passed != want || runs != want {
				t.Errorf("%d of %d runs passed, want %d", passed, runs, want)
			}
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
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]byte, n)
	for range 2 {
		switch mode {
		case mxConfigPR:
			// Config.PredictionResistance: Read is ReadPR.
			if _, err := m.Read(out); err != nil {
				t.Fatal(err)
			}
		case mxReadPR:
			if _, err := m.ReadPR(out); err != nil {
				t.Fatal(err)
			}
		case mxPerCall:
			if osOnly, err := m.ReadPRWith(out, Seeding{Entropy: perCall}); err != nil || osOnly != 0 {
				t.Fatalf("ReadPRWith: %d OS-only reseeds, %v", osOnly, err)
			}
		case mxBuffered:
			// Two half reads: the first refills the buffer.
			if _, err := m.Read(out[:n/2]); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Read(out[n/2:]); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := m.Read(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, consumed := primary.stats(); consumed != uint64(len(primary.replay)) {
		t.Errorf("%s: primary gave %d of %d bytes", rec.where, consumed, len(primary.replay))
	}
	if _, consumed := perCall.stats(); consumed != uint64(len(perCall.replay)) {
		t.Errorf("%s: Seeding.Entropy gave %d of %d bytes", rec.where, consumed, len(perCall.replay))
	}
	if _, consumed := osSrc.stats(); consumed != uint64(len(osSrc.replay)) {
		t.Errorf("%s: OS gave %d of %d bytes", rec.where, consumed, len(osSrc.replay))
	}
	return out
}
