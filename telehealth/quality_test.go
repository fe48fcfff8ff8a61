package telehealth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vitalwire/vitalwire/internal/rtctest"
	"github.com/vitalwire/vitalwire/telehealth"
)

func TestTheSFUJudgesEachParticipantsConnection(t *testing.T) {
	// Carol's network loses a quarter of what the SFU sends her (packets
	// really dropped on her connection, so that her receiver reports say
	// so); Alice's and Bob's lose nothing.
	drops := &telehealth.LossInjection{}
	drops.Set("carol", 0.25)
	sfu, base := sfuServerConfig(t, telehealth.Config{LoopbackOnly: true, DropTo: drops})
	api := rtctest.API(t)
	var ps []*rtctest.Participant
	for _, who := range []string{"alice", "bob", "carol"} {
		p := rtctest.Join(t, api, wsURL(base, "vq", who), who, nil)
		p.Send(300)
		ps = append(ps, p)
	}
	quality := func() map[string]telehealth.Participant {
		out := map[string]telehealth.Participant{}
		for _, p := range sfu.Participants("vq") {
			out[p.Subject] = p
		}
		return out
	}
	require.Eventually(t, func() bool {
		q := quality()
		return q["carol"].Quality == telehealth.QualityPoor && q["alice"].Quality == telehealth.QualityGood && q["bob"].Quality == telehealth.QualityGood
	}, 20*time.Second, 100*time.Millisecond, "carol poor, the others good: %+v", quality())
	q := quality()
	t.Logf("carol: %.1f %% loss, %d ms; alice: %.1f %%, %d ms", q["carol"].LossPct, q["carol"].RTTMs, q["alice"].LossPct, q["alice"].RTTMs)
	require.Greater(t, q["carol"].LossPct, 10.0)
	require.Less(t, q["alice"].LossPct, 3.0)

	t.Run("a healthy participant still gets everything from the one with the poor connection", func(t *testing.T) {
		alice := ps[0]
		before := alice.From("carol", "video").Packets.Load()
		sent := ps[2].Sent("video")
		time.Sleep(2 * time.Second)
		got := alice.From("carol", "video").Packets.Load() - before
		require.GreaterOrEqual(t, float64(got), 0.97*float64(ps[2].Sent("video")-sent), "alice loses nothing of carol's video")
	})
}

func TestQualityLevels(t *testing.T) {
	for _, c := range []struct {
		loss float64
		rtt  time.Duration
		want string
	}{
		{0, 20 * time.Millisecond, telehealth.QualityGood},
		{0.029, 249 * time.Millisecond, telehealth.QualityGood},
		{0.03, 0, telehealth.QualityFair},
		{0, 250 * time.Millisecond, telehealth.QualityFair},
		{0.10, 0, telehealth.QualityPoor},
		{0.01, 600 * time.Millisecond, telehealth.QualityPoor},
	} {
		require.Equal(t, c.want, telehealth.QualityLevel(c.loss, c.rtt), "%.3f loss, %s", c.loss, c.rtt)
	}
}
