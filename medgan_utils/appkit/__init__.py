"""What the Streamlit page computes, without importing Streamlit. Nothing else imports it."""
