-- A small portrait for checkpoint screens, cropped around the face at enrollment and
-- sealed like the photo (with its own associated data). Online verification sends this
-- instead of the full photo: about a fifth of the bytes to read, decrypt and transmit.
-- Rows enrolled before this migration have none; verification falls back to the photo.
ALTER TABLE biometrics_face ADD COLUMN display_sealed bytea;
