package mixer_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/hsmentropy/hsmentropy/mixer"
)

func ExampleNew() {
	m, err := mixer.New(mixer.Config{
		// The primary source: an HSM in hsmrand; crypto/rand stands in here.
		Primary: rand.Reader,
		Shards:  2,
		// If the primary fails at a reseed, go on from the OS alone; the
		// degraded state shows in Stats.
		OnPrimaryError: func(err error) mixer.Decision {
			log.Printf("primary source: %v", err)
			return mixer.ContinueOSOnly
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	key := make([]byte, 32)
	if _, err := m.Read(key); err != nil {
		log.Fatal(err)
	}
	st := m.Stats()
	fmt.Println(len(key), st.Shards, st.Reads, st.BytesServed, st.DegradedShards)
	// Output: 32 2 1 32 0
}

func ExampleMixer_ReadPR() {
	m, err := mixer.New(mixer.Config{Primary: rand.Reader, Shards: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// A key-generation path: reseed from the primary before this request.
	seed := make([]byte, 64)
	if _, err := m.ReadPR(seed); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(seed), m.Stats().Reseeds)
	// Output: 64 1
}
