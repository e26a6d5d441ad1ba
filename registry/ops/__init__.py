"""Operations over the whole store, run by operators and the beat: integrity check, garbage
collection, backup and restore, the aliasing repair."""
