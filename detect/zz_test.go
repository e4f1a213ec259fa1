package detect
import ("testing";"time";"math/rand/v2")
func BenchmarkZZRule(b *testing.B) {
	for _, name := range []string{"", RuleSynFlood, RulePortScan, RuleBruteForce, RuleExfiltration} {
	b.Run(name, func(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	rs := detfuzzRules(0)
	for _, ru := range rs.Rules { if name != "" && ru.Name != name { ru.Enabled = false } }
	e := New(rs)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := t0
	var v View
	for i := range 8 { now = now.Add(time.Second); if i == 3 { now = now.Add(10 * time.Minute) }; detfuzzFlood(&v, r, t0, now, []uint16{22}); v.Baselines = detfuzzBenchBaselines; e.Eval(&v, now) }
	b.ResetTimer()
	for range b.N {
		b.StopTimer(); now = now.Add(time.Second); detfuzzFlood(&v, r, t0, now, []uint16{22}); v.Baselines = detfuzzBenchBaselines; b.StartTimer()
		e.Eval(&v, now)
	}
	})
	}
}
func BenchmarkZZBuild(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	var v View
	now := time.Now()
	detfuzzFlood(&v, r, now, now, []uint16{22})
	var fs facts
	b.ResetTimer()
	for range b.N { fs.build(&v) }
}
func BenchmarkZZBuildFresh(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	var v View
	now := time.Now()
	detfuzzFlood(&v, r, now, now, []uint16{22})
	var fs facts
	b.ResetTimer()
	for range b.N { b.StopTimer(); detfuzzFlood(&v, r, now, now, []uint16{22}); b.StartTimer(); fs.build(&v) }
}
