package telehealth

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCleanChat(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"a message is kept as written, trimmed", "  hi\nthere ", "hi\nthere", nil},
		{"control characters other than newline and tab are dropped", "a\x00b\x1b[31mc\td", "ab[31mc\td", nil},
		{"an empty message is refused", " \n\t ", "", ErrChatEmpty},
		{"a message of the limit is kept", strings.Repeat("é", 10), strings.Repeat("é", 10), nil},
		{"a message over the limit is refused, counted in characters", strings.Repeat("é", 11), "", ErrChatTooLong},
		{"text that is not UTF-8 is refused", "a\xffb", "", ErrChatEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CleanChat(tc.in, 10)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestChatRateIsPerParticipantPerMinute(t *testing.T) {
	var r chatRate
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		require.True(t, r.allow("pat", 3, t0.Add(time.Duration(i)*time.Second)))
	}
	require.False(t, r.allow("pat", 3, t0.Add(10*time.Second)), "a fourth message in the minute")
	require.True(t, r.allow("doc", 3, t0.Add(10*time.Second)), "another participant has their own allowance")
	require.True(t, r.allow("pat", 3, t0.Add(61*time.Second)), "the minute has passed")
}

func TestChatSettingsAreValidatedByName(t *testing.T) {
	s := DefaultSettings()
	require.NoError(t, s.Validate())
	s.ChatMaxChars, s.ChatPerMinute = -1, 601
	err := s.Validate()
	require.ErrorContains(t, err, "chat_max_chars")
	require.ErrorContains(t, err, "chat_per_minute")
}
