"""What every HTTP request msext sends is held to, whichever library sends it: an overall
deadline, a cap on the answer's size, credentials only over encryption, server-supplied
links only to the configured origin, and back-off between retries."""
