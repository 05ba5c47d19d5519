
t
t.pb