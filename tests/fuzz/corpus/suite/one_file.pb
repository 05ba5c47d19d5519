
one
a.pb