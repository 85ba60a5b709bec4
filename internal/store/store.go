// Package store keeps hyperd's state in an embedded bbolt database: JSON
// records in named buckets, each change one transaction, so a daemon killed
// at any moment restarts from a consistent state.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hyperhq/hyper/internal/errdefs"
)

// DB is the state database.
type DB struct{ bolt *bolt.DB }

// Open opens (or creates) the database at path. It fails fast, with
// Unavailable, if another daemon holds it.
func Open(path string) (*DB, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, errdefs.Unavailable("state database %s is locked: is another hyperd running?", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening state database: %w", err)
	}
	return &DB{bolt: b}, nil
}

// Bolt returns the underlying database, for packages keeping buckets of
// their own (the image store).
func (d *DB) Bolt() *bolt.DB { return d.bolt }

// Close closes the database.
func (d *DB) Close() error { return d.bolt.Close() }

// Put stores v under key.
func (d *DB) Put(bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", bucket, key, err)
	}
	return d.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), b)
	})
}

// Create stores v under key, failing with Conflict if key exists.
func (d *DB) Create(bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", bucket, key, err)
	}
	return d.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		if bk.Get([]byte(key)) != nil {
			return errdefs.Conflict("%s %q already exists", bucket, key)
		}
		return bk.Put([]byte(key), b)
	})
}

// Get loads key into v; NotFound if absent.
func (d *DB) Get(bucket, key string, v any) error {
	return d.bolt.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		var b []byte
		if bk != nil {
			b = bk.Get([]byte(key))
		}
		if b == nil {
			return errdefs.NotFound("%s %q not found", bucket, key)
		}
		return json.Unmarshal(b, v)
	})
}

// Delete removes key; absent keys are not an error.
func (d *DB) Delete(bucket, key string) error {
	return d.bolt.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.Delete([]byte(key))
	})
}

// Each calls fn with every key and raw JSON value of bucket, in key order.
func (d *DB) Each(bucket string, fn func(key string, raw []byte) error) error {
	return d.bolt.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// List decodes every value of bucket with T.
func List[T any](d *DB, bucket string) ([]T, error) {
	var out []T
	err := d.Each(bucket, func(key string, raw []byte) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decoding %s/%s: %w", bucket, key, err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Migrate rewrites the values of bucket in one transaction, before they
// are read: fn gets each key and value (valid during the call only) and
// returns the value to store instead, or nil to keep it. An error of fn
// changes nothing in the bucket. Migrate returns how many values it
// rewrote.
func (d *DB) Migrate(bucket string, fn func(key string, value []byte) ([]byte, error)) (int, error) {
	var keys, values [][]byte
	err := d.bolt.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		err := bk.ForEach(func(k, v []byte) error {
			nv, err := fn(string(k), v)
			if err != nil {
				return fmt.Errorf("migrating %s/%s: %w", bucket, k, err)
			}
			if nv != nil {
				keys, values = append(keys, bytes.Clone(k)), append(values, nv)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys { // not within ForEach: bbolt forbids changes there
			if err := bk.Put(k, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(keys), nil
}
