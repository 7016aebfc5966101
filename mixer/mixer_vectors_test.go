package mixer

import (
	"bytes"
	"os"
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
// Each flow runs twice: no_reseed and pr_false once with the requests
// generated straight into p and once through the shard buffer, pr_true
// once through ReadPR and once through Read with
// Config.PredictionResistance. The vectors are parsed by
// parseCTRVectors (ctr_vectors_test.go).
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
			passed := 0
			for _, rec := range recs {
				if rec.df || rec.lens["PersonalizationStringLen"] != 8*SeedLen || rec.lens["AdditionalInputLen"] != 8*SeedLen {
					continue
				}
				for _, buffered := range []bool{false, true} {
					if got := mxRunRecord(t, rec, buffered); !bytes.Equal(got, rec.returned) {
						t.Errorf("%s (buffered %v): got %x, want %x", rec.where, buffered, got, rec.returned)
						continue
					}
					passed++
				}
			}
			// 60 records (four sections of 15), each run twice.
			if passed != 120 {
				t.Errorf("%d runs passed, want 120", passed)
			}
			total += passed
		})
	}
	t.Logf("%d vector runs passed", total)
}

// mxRunRecord replays one CAVP record through a single-shard Mixer and
// returns the output of its second request.
func mxRunRecord(t *testing.T, rec *ctrRecord, buffered bool) []byte {
	t.Helper()
	n := len(rec.returned)
	primary, osSrc := newMXSource("P", nil), newMXSource("O", nil)
	primary.replay = append(bytes.Clone(rec.entropy), rec.reseedEntropy...)
	for _, e := range rec.entropyPR {
		primary.replay = append(primary.replay, e...)
	}
	osSrc.replay = append(bytes.Clone(rec.pers), rec.reseedAdd...)
	for _, a := range rec.additional {
		osSrc.replay = append(osSrc.replay, a...)
	}
	m := newTestMixer(t, Config{Primary: primary, OS: osSrc, Shards: 1, BufferSize: n, PredictionResistance: rec.pr && buffered})
	s := &m.shards[0]
	if rec.hasReseed {
		s.mu.Lock()
		err := m.reseed(s)
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]byte, n)
	for range 2 {
		switch {
		case rec.pr && buffered:
			// Config.PredictionResistance: Read is ReadPR.
			if _, err := m.Read(out); err != nil {
				t.Fatal(err)
			}
		case rec.pr:
			if _, err := m.ReadPR(out); err != nil {
				t.Fatal(err)
			}
		case buffered:
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
	if _, consumed := osSrc.stats(); consumed != uint64(len(osSrc.replay)) {
		t.Errorf("%s: OS gave %d of %d bytes", rec.where, consumed, len(osSrc.replay))
	}
	return out
}
