
points
t.pb*è