package assess

import "math/bits"

const (
	lagName    = "Lag Prediction Test"
	lagSection = "6.3.8"
	// lagD is the number of lags, D of SP 800-90B Section 6.3.8.
	lagD = 128
)

// Lag computes the Lag prediction estimate, per SP 800-90B Section 6.3.8, of
// s, whose symbols lie in 0..k-1 (at least 3 of them, else it is Skipped).
//
// Subpredictor d (1..128) predicts the symbol d places back; the prediction
// is that of the subpredictor with the highest score, a tie going to the
// one that reached it last and, within one step, to the larger lag. As in
// the tool, predictions start at the second symbol, so N = L - 1.
func Lag(s []byte, k int) PredictionResult {
	r := PredictionResult{Estimate: Estimate{Name: lagName, Section: lagSection}}
	if why := sequenceProblem(s, k, 3); why != "" {
		r.Skipped = why
		return r
	}
	var c, longest int
	if k == 2 {
		c, longest = lagBinary(s)
	} else {
		c, longest = lagSymbols(s)
	}
	// Steps 4-7.
	return newPredictionResult(lagName, lagSection, c, len(s)-1, longest+1, k)
}

// lagState is the scoreboard of SP 800-90B Section 6.3.8: score[d] counts
// the correct predictions of lag d, winner is the lag that predicts next
// and high its score.
type lagState struct {
	score                 [lagD + 1]int
	winner, high          int
	correct, run, longest int
}

// predict records the winner's prediction of s[i], per Step 3b-c.
func (st *lagState) predict(s []byte, i int) {
	if s[i] == s[i-st.winner] {
		st.correct++
		st.run++
		st.longest = max(st.longest, st.run)
	} else {
		st.run = 0
	}
}

// hit scores lag d, which predicted correctly, per Step 3d; the lags of one
// step must be scored in increasing order.
func (st *lagState) hit(d int) {
	st.score[d]++
	if st.score[d] >= st.high {
		st.winner, st.high = d, st.score[d]
	}
}

// lagSymbols runs the Lag predictor of SP 800-90B Section 6.3.8 Steps 1-3
// on s and returns the number of correct predictions and the longest run of
// them. The lags to score at each step are the earlier occurrences of the
// current symbol within 128 places, found by following a chain of previous
// occurrences (the tool's per-symbol ring buffers, in another form).
func lagSymbols(s []byte) (correct, longest int) {
	st := lagState{winner: 1}
	var lastSeen [256]int32
	for i := range lastSeen {
		lastSeen[i] = -1
	}
	prev := make([]int32, len(s))
	prev[0] = -1
	lastSeen[s[0]] = 0
	for i := 1; i < len(s); i++ {
		st.predict(s, i)
		x := s[i]
		for j := lastSeen[x]; j >= 0 && i-int(j) <= lagD; j = prev[j] {
			st.hit(i - int(j))
		}
		prev[i] = lastSeen[x]
		lastSeen[x] = int32(i)
	}
	return st.correct, st.longest
}

// lagBlock is the number of steps lagBinary takes at once: one word.
const lagBlock = 64

// lagBinary is lagSymbols for a binary sequence, 64 steps at a time. The
// matches of every lag over a block are counted with one XOR and one
// popcount of packed words. Within the block, only lags whose score plus
// those matches reaches the high score at the block's start can become the
// winner (the high score never falls), so only they are followed step by
// step; the others take their matches at the end of the block.
func lagBinary(s []byte) (correct, longest int) {
	st := lagState{winner: 1}
	n := len(s)
	// The first steps, while fewer than 128 symbols precede, one by one.
	head := min(n, lagD+1)
	for i := 1; i < head; i++ {
		st.predict(s, i)
		for d := 1; d <= i; d++ {
			if s[i-d] == s[i] {
				st.hit(d)
			}
		}
	}
	p := newPackedSeq(s, 2)
	var matches [lagD + 1]int
	cands := make([]int, 0, lagD)
	for b := head; b < n; b += lagBlock {
		e := min(b+lagBlock, n)
		mask := ^uint64(0) << (lagBlock - (e - b))
		x := p.window(b)
		cands = cands[:0]
		for d := 1; d <= lagD; d++ {
			matches[d] = bits.OnesCount64(^(x ^ p.window(b-d)) & mask)
			if st.score[d]+matches[d] >= st.high {
				cands = append(cands, d)
			} else {
				st.score[d] += matches[d]
			}
		}
		for i := b; i < e; i++ {
			st.predict(s, i)
			for _, d := range cands {
				if s[i-d] == s[i] {
					st.hit(d)
				}
			}
		}
	}
	return st.correct, st.longest
}
