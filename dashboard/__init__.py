"""papertrader dashboard: Streamlit app, pages and pure plotly figure builders."""
