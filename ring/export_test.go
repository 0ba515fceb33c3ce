package ring

// Sleepers exposes, to tests only, how many readers are parked.
func Sleepers[T any](r *Ring[T]) int { return int(r.sleepers.Load()) }
