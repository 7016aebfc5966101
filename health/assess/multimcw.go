package assess

const (
	multiMCWName    = "Multi Most Common in Window Test"
	multiMCWSection = "6.3.7"
)

// mcwWindows are the window sizes w_1..w_4 of SP 800-90B Section 6.3.7.
var mcwWindows = [...]int{63, 255, 1023, 4095}

// MultiMCW computes the Multi Most Common in Window prediction estimate,
// per SP 800-90B Section 6.3.7, of s, whose symbols lie in 0..k-1. It needs
// more than 4,095 symbols (the largest window), else it is Skipped, as the
// tool skips it.
//
// Each window's subpredictor predicts the most common symbol of the last w
// symbols, a tie going to the symbol seen most recently; the prediction is
// that of the subpredictor with the highest score, a tie going to the larger
// window. As in the tool, predictions start at the 64th symbol (index 63),
// each subpredictor scoring once its window is full, so N = L - 63.
func MultiMCW(s []byte, k int) PredictionResult {
	r := PredictionResult{Estimate: Estimate{Name: multiMCWName, Section: multiMCWSection}}
	if why := sequenceProblem(s, k, mcwWindows[len(mcwWindows)-1]+1); why != "" {
		r.Skipped = why
		return r
	}
	var c, longest int
	if k == 2 {
		c, longest = mcwBinary(s)
	} else {
		c, longest = mcwSymbols(s, k)
	}
	// Steps 4-7, with r one more than the longest run of correct
	// predictions.
	return newPredictionResult(multiMCWName, multiMCWSection, c, len(s)-mcwWindows[0], longest+1, k)
}

// mcwSymbols runs the predictor of SP 800-90B Section 6.3.7 Steps 1-3 on s
// (symbols 0..k-1) and returns the number of correct predictions and the
// longest run of them. It keeps, per window, the count and last position of
// every symbol and the current most common symbol, rescanning the alphabet
// only when that symbol leaves the window (the tool's method).
func mcwSymbols(s []byte, k int) (correct, longest int) {
	const nw = len(mcwWindows)
	var (
		count    [nw][]int32
		last     [nw][]int
		maxCount [nw]int32
		frequent [nw]byte
		score    [nw]int
	)
	for j := range nw {
		count[j] = make([]int32, k)
		last[j] = make([]int, k)
	}
	// Step 1. Fill each window with the first w symbols.
	for j, w := range mcwWindows {
		for i, x := range s[:w] {
			count[j][x]++
			if maxCount[j] <= count[j][x] {
				maxCount[j], frequent[j] = count[j][x], x
			}
			last[j][x] = i
		}
	}
	// Steps 2-3. Predict, score, slide the windows.
	winner, run := 0, 0
	for i := mcwWindows[0]; i < len(s); i++ {
		x := s[i]
		// Step 3b-c. The winner's prediction.
		if frequent[winner] == x {
			correct++
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
		// Step 3d. Score the subpredictors whose windows are full.
		for j, w := range mcwWindows {
			if i >= w && frequent[j] == x {
				score[j]++
				if score[j] >= score[winner] {
					winner = j
				}
			}
		}
		// Step 3a for the next symbol. Slide each full window by one.
		for j, w := range mcwWindows {
			if i < w {
				continue
			}
			out := s[i-w]
			cnt := count[j]
			cnt[out]--
			cnt[x]++
			last[j][x] = i
			switch {
			case out != frequent[j]:
				if maxCount[j] <= cnt[x] {
					maxCount[j], frequent[j] = cnt[x], x
				}
			default:
				// The most common symbol lost one: find the most common
				// again, the most recent on a tie.
				maxCount[j]--
				maxPos := i - w
				for y := range k {
					if maxCount[j] < cnt[y] || (maxCount[j] == cnt[y] && maxPos <= last[j][y]) {
						maxCount[j], frequent[j], maxPos = cnt[y], byte(y), last[j][y]
					}
				}
			}
		}
	}
	return correct, longest
}

// mcwBinary is mcwSymbols for a binary sequence. The windows have odd
// sizes, so the most common bit of a full window is its majority and no tie
// arises; the counts of ones slide in constant time.
func mcwBinary(s []byte) (correct, longest int) {
	const nw = len(mcwWindows)
	var ones, score [nw]int
	for j, w := range mcwWindows {
		for _, x := range s[:w] {
			ones[j] += int(x)
		}
	}
	winner, run := 0, 0
	for i := mcwWindows[0]; i < len(s); i++ {
		x := s[i]
		var frequent [nw]byte
		for j, w := range mcwWindows {
			if 2*ones[j] > w {
				frequent[j] = 1
			}
		}
		if frequent[winner] == x {
			correct++
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
		for j, w := range mcwWindows {
			if i >= w {
				if frequent[j] == x {
					score[j]++
					if score[j] >= score[winner] {
						winner = j
					}
				}
				ones[j] += int(x) - int(s[i-w])
			}
		}
	}
	return correct, longest
}
