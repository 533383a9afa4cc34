package store

import (
	"context"
	"fmt"
	"time"
)

func (s *Store) revokedKey(id string) string { return s.o.Prefix + ":console:revoked:" + id }

// RevokeSession marks the console session id as signed out until its expiry, so a copied cookie stops
// working at once on every ingress replica, not only in the browser that signed out.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	ttl := time.Until(expires)
	if ttl <= 0 {
		return nil // expired anyway
	}
	if err := s.rdb.Set(ctx, s.revokedKey(id), "1", ttl).Err(); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// SessionRevoked reports whether the console session id was signed out.
func (s *Store) SessionRevoked(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.revokedKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("session revoked: %w", err)
	}
	return n == 1, nil
}
