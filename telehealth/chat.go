package telehealth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Chat limits (the telehealth section's chat_* settings).
const (
	DefaultChatMaxChars    = 2000
	DefaultChatPerMinute   = 20
	DefaultChatMaxMessages = 1000
)

// Chat errors.
var (
	ErrChatEmpty    = errors.New("chat: the message is empty")
	ErrChatTooLong  = errors.New("chat: the message is too long")
	ErrChatRate     = errors.New("chat: too many messages; wait a moment")
	ErrChatFull     = errors.New("chat: this visit has reached its number of messages")
	ErrChatDisabled = errors.New("chat: not available in this visit")
)

// ChatMessage is one message of a visit's text chat.
type ChatMessage struct {
	Subject string    `json:"subject"`
	Role    string    `json:"role"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
}

// ChatLimits bound a visit's chat.
type ChatLimits struct {
	MaxChars    int // characters (runes) a message
	PerMinute   int // messages a participant, per minute
	MaxMessages int // messages a visit keeps
}

// CleanChat checks a message's text: valid UTF-8, not empty, at most max
// characters; control characters other than newline and tab are dropped
// and the ends trimmed.
func CleanChat(text string, max int) (string, error) {
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("%w: not UTF-8", ErrChatEmpty)
	}
	text = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return -1
		}
		return r
	}, text))
	if text == "" {
		return "", ErrChatEmpty
	}
	if n := utf8.RuneCountInString(text); n > max {
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrChatTooLong, n, max)
	}
	return text, nil
}

// chatRate allows each participant of a visit perMinute messages in any
// minute (a sliding window), whatever their connections.
type chatRate struct {
	mu   sync.Mutex
	sent map[string][]time.Time // subject -> send times within the last minute
}

func (c *chatRate) allow(subject string, perMinute int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent == nil {
		c.sent = map[string][]time.Time{}
	}
	recent := c.sent[subject][:0]
	for _, t := range c.sent[subject] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= perMinute {
		c.sent[subject] = recent
		return false
	}
	c.sent[subject] = append(recent, now)
	return true
}

// AddMessage keeps a chat message with the visit; a visit keeps at most
// max messages.
func (v *Visits) AddMessage(ctx context.Context, id string, m ChatMessage, max int) (ChatMessage, error) {
	m.At = v.now().UTC().Truncate(time.Millisecond)
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return ChatMessage{}, err
	}
	defer tx.Rollback()
	var state string
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT state, (SELECT count(*) FROM visit_messages WHERE visit = ?) FROM visits WHERE id = ?`, id, id).Scan(&state, &n); err != nil {
		return ChatMessage{}, ErrNotFound
	}
	if state == Ended {
		return ChatMessage{}, ErrEnded
	}
	if n >= max {
		return ChatMessage{}, ErrChatFull
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO visit_messages (visit, subject, role, text, at) VALUES (?, ?, ?, ?, ?)`,
		id, m.Subject, m.Role, m.Text, m.At.UnixMilli()); err != nil {
		return ChatMessage{}, fmt.Errorf("keep chat message: %w", err)
	}
	return m, tx.Commit()
}

func (v *Visits) messages(ctx context.Context, id string) ([]ChatMessage, error) {
	rows, err := v.db.QueryContext(ctx, `SELECT subject, role, text, at FROM visit_messages WHERE visit = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ChatMessage{}
	for rows.Next() {
		var m ChatMessage
		var at int64
		if err := rows.Scan(&m.Subject, &m.Role, &m.Text, &at); err != nil {
			return nil, err
		}
		m.At = time.UnixMilli(at).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// ChatLimits are the limits the SFU applies to chat messages.
func (s *SFU) ChatLimits() ChatLimits { return s.cfg.Chat }
