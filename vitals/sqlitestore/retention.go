package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DeleteBefore deletes the readings whose event time is before cutoff,
// at most batch rows per transaction, so that the devices' writes, which
// wait for the one SQLite writer, wait for one short batch at a time. It
// walks the (patient, type) series by seeking the primary key, never
// scanning the table, and returns how many readings it deleted.
func (s *Store) DeleteBefore(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	if batch < 1 {
		return 0, errors.New("retention batch must be positive")
	}
	var total int64
	patient, typ := "", ""
	for {
		err := s.db.QueryRowContext(ctx, `SELECT patient, type FROM readings WHERE (patient, type) > (?, ?)
			ORDER BY patient, type LIMIT 1`, patient, typ).Scan(&patient, &typ)
		if errors.Is(err, sql.ErrNoRows) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("retention: next series: %w", err)
		}
		for {
			n, err := s.deleteBatch(ctx, patient, typ, cutoff.UnixNano(), batch)
			total += n
			if err != nil {
				return total, err
			}
			if n < int64(batch) {
				break
			}
		}
	}
}

func (s *Store) deleteBatch(ctx context.Context, patient, typ string, cutoff int64, batch int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.db.ExecContext(ctx, `DELETE FROM readings WHERE patient = ? AND type = ? AND (t, device) IN
		(SELECT t, device FROM readings WHERE patient = ? AND type = ? AND t < ? ORDER BY t LIMIT ?)`,
		patient, typ, patient, typ, cutoff, batch)
	if err != nil {
		return 0, fmt.Errorf("retention: delete: %w", err)
	}
	return res.RowsAffected()
}
